// Does bf16 hold accuracy? The demo's configuration (synthetic whole-body PET, proposed network,
// Combo β = 0.4) trained for a fixed number of epochs in fp32 and in bf16 with three seeds each;
// every run predicts the held-out test cases in its own precision. Prints each run's mean test
// Dice, each precision's mean ± sd over seeds, and the paired per-case comparison (bf16 − fp32,
// same seed and case; Wilcoxon signed-rank), and writes them to runs/precision-accuracy/result.json.
//   node --import tsx bench/precision-accuracy.ts [EPOCHS=40] [SEEDS=1,2,3]
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { data, inference, metrics, training, experiments, type Precision } from '../src/index.js';
import { writeFileAtomic } from '../src/util/fs.js';

const epochs = Number(process.argv[2] ?? 40);
const seeds = (process.argv[3] ?? '1,2,3').split(',').map(Number);
const root = resolve(process.env.ACCURACY_DIR ?? 'runs/precision-accuracy');
const dataDir = join(root, 'data');
mkdirSync(root, { recursive: true });
if (!existsSync(join(dataDir, 'dataset.json'))) {
  await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 24, seed: 7, size: [48, 48, 112] });
}

/** The demo's configuration (demo/demo.ts) with a fixed epoch count instead of a time limit. */
const config = (precision: Precision, seed: number) => ({
  data: { msd: dataDir },
  split: { validation: 0.17, test: 0.17, seed: 0 },
  network: { name: 'proposed', options: { channels: [8, 16, 32, 64], outputBias: -4 } },
  loss: { name: 'combo', options: { alpha: 0.5, beta: 0.4, dice: 'per-class-mean' } },
  sampler: { kind: 'whole', patchSize: [48, 48, 112] },
  batchSize: 2,
  epochs,
  optimizer: { name: 'adadelta', lr: 1, rho: 0.95, eps: 1e-8 },
  inference: { mode: 'window', stride: [24, 24, 56], aggregation: 'max', threshold: 0.5 },
  precision,
  seed,
  out: join(root, `${precision}-seed${seed}`),
});

interface Run {
  precision: Precision;
  seed: number;
  seconds: number;
  meanDice: number;
  perCase: Record<string, number>;
}

/** A run finished earlier (its run.result.json) is reused: delete its folder to run it again. */
async function runOne(precision: Precision, seed: number): Promise<Run> {
  const cfg = config(precision, seed);
  const done = join(cfg.out, 'run.result.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as Run;
  // A run whose training finished (all its epochs recorded) is evaluated again, not retrained.
  const records = existsSync(cfg.out) ? training.readEpochRecords(cfg.out) : [];
  let seconds = records.reduce((a, r) => a + r.seconds, 0);
  if (records.length < epochs) {
    rmSync(cfg.out, { recursive: true, force: true });
    const t0 = performance.now();
    await training.train(cfg);
    seconds = (performance.now() - t0) / 1000;
  }
  const split = JSON.parse(readFileSync(join(cfg.out, 'split.json'), 'utf8')) as { test: string[] };
  const model = inference.loadModel(join(cfg.out, 'best'));
  model.network.precision = precision;
  const ds = data.readMsd(dataDir);
  const perCase: Record<string, number> = {};
  for (const id of split.test) {
    const entry = ds.training.find((t) => t.id === id);
    if (!entry) throw new Error(`test case ${id} is not in ${dataDir}`);
    const c = await data.loadCase(entry);
    if (!c.labels) throw new Error(`test case ${id} has no label`);
    const pred = inference.predictVolume(model.network, model.meta, c.image);
    perCase[id] = metrics.caseMeanDice(metrics.evaluateCase(id, pred.labels, c.labels, ds.labels));
  }
  model.network.dispose();
  const values = Object.values(perCase);
  const run = { precision, seed, seconds, meanDice: values.reduce((a, b) => a + b, 0) / values.length, perCase };
  writeFileAtomic(done, Buffer.from(JSON.stringify(run, null, 2)));
  return run;
}

const runs: Run[] = [];
for (const seed of seeds) {
  for (const precision of ['fp32', 'bf16'] as const) {
    const r = await runOne(precision, seed);
    runs.push(r);
    console.log(`${precision} seed ${seed}: mean test Dice ${r.meanDice.toFixed(4)} (${r.seconds.toFixed(0)} s)`);
  }
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean, sd };
};
const by = (p: Precision) => runs.filter((r) => r.precision === p);
const summary = Object.fromEntries(
  (['fp32', 'bf16'] as const).map((p) => [
    p,
    { ...stats(by(p).map((r) => r.meanDice)), seconds: stats(by(p).map((r) => r.seconds)).mean },
  ]),
);
const diffs = seeds.flatMap((seed) => {
  const [f, b] = (['fp32', 'bf16'] as const).map((p) => runs.find((r) => r.precision === p && r.seed === seed));
  if (!f || !b) return [];
  return Object.keys(f.perCase).map((id) => b.perCase[id] - f.perCase[id]);
});
const paired = { n: diffs.length, meanDiff: stats(diffs).mean, wilcoxon: experiments.wilcoxon(diffs) };
console.log(
  `fp32 ${summary.fp32.mean.toFixed(4)} ± ${summary.fp32.sd.toFixed(4)}; bf16 ${summary.bf16.mean.toFixed(4)} ± ` +
    `${summary.bf16.sd.toFixed(4)} (mean ± sd over ${seeds.length} seeds, ${epochs} epochs); ` +
    `paired per-case bf16 − fp32: ${paired.meanDiff.toFixed(4)} over ${paired.n} pairs, ` +
    `Wilcoxon p = ${paired.wilcoxon?.p.toFixed(3) ?? 'n/a'}`,
);
writeFileAtomic(
  join(root, 'result.json'),
  Buffer.from(JSON.stringify({ epochs, seeds, runs, summary, paired }, null, 2)),
);
