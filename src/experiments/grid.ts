// `comboseg experiment`: a grid of networks × losses (× loss options, e.g. β) ×
// seeds on one data set. Each cell is a training run of the same configuration
// (same split, same budget) evaluated on the test cases. Cells run one after
// another and the grid is resumable: a cell with a result is never re-run, an
// interrupted cell resumes from its last checkpoint.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { train, type TrainEvents } from '../training/trainer.js';
import { RunDir, type EpochRecord } from '../training/run-dir.js';
import { parseConfig } from '../training/config.js';
import { loadModel } from '../inference/model.js';
import { predictVolume } from '../inference/predict.js';
import { openDataset, loadCase, type Dataset, type DatasetCase, type DataSpec } from '../data/datasets.js';
import { evaluateCase, MetricsAccumulator, type CaseMetrics, type Summary } from '../metrics/evaluate.js';
import { METRIC_NAMES } from '../metrics/overlap.js';

const entry = z
  .object({ name: z.string(), options: z.record(z.unknown()).default({}), label: z.string().optional() })
  .strict();

export const ExperimentConfigSchema = z
  .object({
    /** Free text for readers of the file. */
    _comment: z.string().optional(),
    /** The training configuration every cell shares (its `out` is replaced per cell). */
    base: z.record(z.unknown()),
    networks: z.array(entry).min(1),
    losses: z.array(entry).default([]),
    /** Expands into one loss entry per value: e.g. { loss: 'combo', option: 'beta', values: [0.3, 0.5, 0.7] }. */
    sweep: z
      .object({
        loss: z.string(),
        options: z.record(z.unknown()).default({}),
        option: z.string(),
        values: z.array(z.number()).min(1),
      })
      .strict()
      .optional(),
    seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
    /**
     * k-fold cross-validation: every cell trains k times, each fold's cases held out as its test
     * set (folds shuffled by base.split.seed; base.split.validation of the rest validates), and
     * the cell is scored on all cases pooled. Without it, one split (base.split) is used.
     */
    folds: z.number().int().min(2).optional(),
    out: z.string().min(1),
  })
  .strict();

export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

export interface CellSpec {
  id: string;
  network: { name: string; options: Record<string, unknown>; label: string };
  loss: { name: string; options: Record<string, unknown>; label: string };
  seed: number;
}

export interface FoldResult {
  fold: number;
  summary: Summary;
  cases: CaseMetrics[];
  records: EpochRecord[];
  bestEpoch: number | null;
}

export interface CellResult extends CellSpec {
  /** Over all test cases (pooled over folds under cross-validation). */
  summary: Summary;
  cases: CaseMetrics[];
  /** Per epoch; under cross-validation the mean over folds of the epochs every fold reached. */
  records: EpochRecord[];
  bestEpoch: number | null;
  /** Under cross-validation: each fold's own result. */
  folds?: FoldResult[];
}

export function parseExperiment(value: unknown, source = 'experiment config'): ExperimentConfig {
  const r = ExperimentConfigSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ComboSegError(`${source}: invalid experiment configuration:\n${issues.join('\n')}`, {
      code: 'invalid-config',
      path: source,
    });
  }
  if (!r.data.losses.length && !r.data.sweep) {
    throw new ComboSegError(`${source}: give "losses", a "sweep", or both`, { code: 'invalid-config', path: source });
  }
  return r.data;
}

const slug = (s: string) =>
  s
    .replace(/β/g, 'beta')
    .replace(/α/g, 'alpha')
    .replace(/γ/g, 'gamma')
    .replace(/[^A-Za-z0-9.=-]+/g, '-')
    .replace(/^-|-$/g, '');
const describe = (name: string, options: Record<string, unknown>) =>
  Object.keys(options).length
    ? `${name}(${Object.entries(options)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')})`
    : name;

/** The cells of a grid, in run order. */
export function cells(cfg: ExperimentConfig): CellSpec[] {
  const sweep = cfg.sweep;
  const losses = [
    ...cfg.losses.map((l) => ({ name: l.name, options: l.options, label: l.label ?? describe(l.name, l.options) })),
    ...(sweep
      ? sweep.values.map((v) => {
          const options = { ...sweep.options, [sweep.option]: v };
          return { name: sweep.loss, options, label: `${sweep.loss} ${sweep.option}=${v}` };
        })
      : []),
  ];
  const out: CellSpec[] = [];
  for (const n of cfg.networks)
    for (const l of losses)
      for (const seed of cfg.seeds) {
        const network = { name: n.name, options: n.options, label: n.label ?? n.name };
        out.push({ id: slug(`${network.label}__${l.label}__seed${seed}`), network, loss: l, seed });
      }
  const ids = new Set(out.map((c) => c.id));
  if (ids.size !== out.length) {
    throw new ComboSegError('experiment: two cells have the same name; give the entries distinct "label"s', {
      code: 'invalid-config',
      path: 'label',
    });
  }
  return out;
}

export interface ExperimentEvents {
  /** `fold` is given for the start of each fold's training under cross-validation. */
  onCell?: (
    cell: CellSpec,
    index: number,
    total: number,
    state: 'skipped' | 'started' | 'resumed' | 'done',
    fold?: number,
  ) => void;
  train?: TrainEvents;
}

/** Runs (or resumes) the grid; returns every cell's result, also written to OUT/results.json. */
export async function runExperiment(config: unknown, events: ExperimentEvents = {}): Promise<CellResult[]> {
  const cfg = parseExperiment(config);
  const out = resolve(cfg.out);
  mkdirSync(join(out, 'cells'), { recursive: true });
  writeFileAtomic(join(out, 'experiment.json'), Buffer.from(JSON.stringify(cfg, null, 2)));
  const list = cells(cfg);
  const results: CellResult[] = [];
  for (const [i, cell] of list.entries()) {
    const dir = join(out, 'cells', cell.id);
    const resultPath = join(dir, 'result.json');
    if (existsSync(resultPath)) {
      results.push(JSON.parse(readFileSync(resultPath, 'utf8')) as CellResult);
      events.onCell?.(cell, i, list.length, 'skipped');
      continue;
    }
    let result: CellResult;
    if (cfg.folds === undefined) {
      result = {
        ...cell,
        ...(await runFold(cfg, cell, dir, undefined, events.train, (s) => events.onCell?.(cell, i, list.length, s))),
      };
    } else {
      const folds: FoldResult[] = [];
      for (let f = 0; f < cfg.folds; f++) {
        const foldDir = join(dir, `fold${f}`);
        const foldPath = join(foldDir, 'result.json');
        if (existsSync(foldPath)) {
          folds.push(JSON.parse(readFileSync(foldPath, 'utf8')) as FoldResult);
          continue;
        }
        const r: FoldResult = {
          fold: f,
          ...(await runFold(cfg, cell, foldDir, { k: cfg.folds, fold: f }, events.train, (s) =>
            events.onCell?.(cell, i, list.length, s, f),
          )),
        };
        writeFileAtomic(foldPath, Buffer.from(JSON.stringify(r, null, 2)));
        folds.push(r);
      }
      result = { ...cell, ...poolFolds(folds), folds };
    }
    writeFileAtomic(resultPath, Buffer.from(JSON.stringify(result, null, 2)));
    results.push(result);
    events.onCell?.(cell, i, list.length, 'done');
  }
  writeFileAtomic(join(out, 'results.json'), Buffer.from(JSON.stringify({ experiment: cfg, cells: results }, null, 2)));
  writeFileAtomic(join(out, 'results.csv'), Buffer.from(resultsCsv(results)));
  return results;
}

/**
 * Trains one run of a cell (one fold under cross-validation) in DIR/run, resuming it if
 * interrupted, and scores its test cases.
 */
async function runFold(
  cfg: ExperimentConfig,
  cell: CellSpec,
  dir: string,
  fold: { k: number; fold: number } | undefined,
  trainEvents: TrainEvents | undefined,
  onState: (s: 'started' | 'resumed') => void,
): Promise<Omit<FoldResult, 'fold'>> {
  const runDir = join(dir, 'run');
  const base = cfg.base as { split?: { validation?: number; seed?: number } };
  const trainConfig = parseConfig(
    {
      ...cfg.base,
      ...(fold
        ? {
            split: { validation: base.split?.validation ?? 0.2, test: 0, seed: base.split?.seed ?? 0 },
            folds: { k: fold.k, fold: fold.fold, seed: base.split?.seed ?? 0, heldOut: 'test' },
          }
        : {}),
      network: { name: cell.network.name, options: cell.network.options },
      loss: { name: cell.loss.name, options: cell.loss.options },
      seed: cell.seed,
      out: runDir,
    },
    `cell ${cell.id}${fold ? ` fold ${fold.fold}` : ''}`,
  );
  const resume = new RunDir(runDir).hasLast();
  if (!resume) rmSync(runDir, { recursive: true, force: true });
  onState(resume ? 'resumed' : 'started');
  const run = await train(trainConfig, { resume, events: trainEvents });
  const evaluation = await evaluateTestCases(trainConfig.data, runDir);
  return { ...evaluation, records: run.records, bestEpoch: run.bestEpoch };
}

/** A cell's result from its folds: test cases pooled; per-epoch records averaged over the epochs all folds reached. */
export function poolFolds(folds: FoldResult[]): Omit<CellResult, keyof CellSpec | 'folds'> {
  const acc = new MetricsAccumulator();
  for (const f of folds) for (const c of f.cases) acc.add(c);
  const epochs = Math.min(...folds.map((f) => f.records.length));
  const mean = (xs: (number | null)[]) =>
    xs.every((x) => x !== null) ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  // A record read back from result.json holds null where training wrote NaN (JSON has no NaN): NaN again.
  const records: EpochRecord[] = Array.from({ length: epochs }, (_, e) => ({
    epoch: folds[0].records[e].epoch,
    trainLoss: mean(folds.map((f) => f.records[e].trainLoss)) ?? NaN,
    patches: folds.reduce((a, f) => a + f.records[e].patches, 0),
    seconds: mean(folds.map((f) => f.records[e].seconds)) ?? NaN,
    validation: null,
    meanDice: mean(folds.map((f) => f.records[e].meanDice)),
    best: false,
  }));
  return { summary: acc.summary(), cases: acc.cases, records, bestEpoch: null };
}

/** One CSV row per cell and organ (and 'all organs'): mean, std and missing count of every metric. */
export function resultsCsv(results: CellResult[]): string {
  const header = [
    'cell',
    'network',
    'loss',
    'seed',
    'organ',
    ...METRIC_NAMES.flatMap((m) => [`${m}_mean`, `${m}_std`, `${m}_missing`]),
  ];
  const rows = results.flatMap((c) =>
    [...Object.entries(c.summary.perOrgan), ['all organs', c.summary.overall] as const].map(([organ, st]) => [
      c.id,
      c.network.label,
      c.loss.label,
      String(c.seed),
      organ,
      ...METRIC_NAMES.flatMap((m) => [String(st[m].mean ?? ''), String(st[m].std ?? ''), String(st[m].missing)]),
    ]),
  );
  return (
    [header, ...rows]
      .map((r) => r.map((v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(','))
      .join('\n') + '\n'
  );
}

/** Segments a run's test cases with its best model and evaluates them. */
async function evaluateTestCases(data: DataSpec, runDir: string): Promise<{ summary: Summary; cases: CaseMetrics[] }> {
  const ds: Dataset = openDataset(data);
  const run = new RunDir(runDir);
  const split = run.readSplit();
  if (!split.test.length) {
    throw new ComboSegError(
      `${runDir}: the split has no test cases; set split.test (or folds) in the experiment configuration`,
      { code: 'invalid-config', path: 'split.test' },
    );
  }
  const find = (id: string) => ds.training.find((t) => t.id === id) ?? ds.test.find((t) => t.id === id);
  for (const id of split.test) {
    if (!find(id)) {
      const why = `test case '${id}' of ${run.splitPath} is no longer in the data set`;
      throw new ComboSegError(why, { code: 'not-found', path: run.splitPath });
    }
  }
  // A data set's own test cases (e.g. MSD imagesTs) usually have no labels: they cannot be scored.
  const labelled = split.test.map(find).filter((c): c is DatasetCase => Boolean(c?.label));
  if (!labelled.length) {
    throw new ComboSegError(
      `${runDir}: none of the ${split.test.length} test case(s) has a label to evaluate against`,
      { code: 'invalid-input', path: runDir },
    );
  }
  const model = loadModel(run.bestPath);
  const acc = new MetricsAccumulator();
  try {
    for (const c of labelled) {
      const id = c.id;
      const loaded = await loadCase(c);
      // `labelled` cases have a label file, so loadCase read a label map.
      if (!loaded.labels) throw new Error(`case '${id}': its label map was not read`);
      acc.add(
        evaluateCase(id, predictVolume(model.network, model.meta, loaded.image).labels, loaded.labels, ds.labels),
      );
    }
  } finally {
    model.network.dispose();
  }
  return { summary: acc.summary(), cases: acc.cases };
}
