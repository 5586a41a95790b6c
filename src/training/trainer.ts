// The training loop: sampled patches → network → loss → backward → optimiser,
// then validation on whole volumes with the model's own inference; keeps the
// epoch with the best validation Dice (the paper's rule) and the last one.
//
// Run directory: config.json (resolved), split.json, metrics.jsonl (one line per
// epoch), best.safetensors and last.safetensors (weights, batch-norm statistics
// and metadata; `last` also holds the optimiser state and the position to resume
// from). Every write is atomic. Resuming continues exactly: the sampler is a pure
// function of (seed, epoch, index) and the initialisation is seeded.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ComboSegError } from '../engine/errors.js';
import { tidy, dispose } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import type { JsonValue } from '../engine/safetensors.js';
import { create as createNetwork } from '../networks/registry.js';
import type { Network } from '../networks/network.js';
import { create as createLoss } from '../losses/registry.js';
import { openDataset, split as splitCases, kFold, loadCase, type Dataset, type DatasetCase } from '../data/datasets.js';
import { computeNormalisation, normalise, type Normalisation } from '../data/normalise.js';
import { PaperSampler, RatioSampler, WholeVolumeSampler, type Sampler, type SampleCase } from '../data/sampler.js';
import { toBatch, type Patch } from '../data/patch.js';
import type { Volume } from '../data/volume.js';
import { evaluateCase, MetricsAccumulator } from '../metrics/evaluate.js';
import type { MetricName } from '../metrics/overlap.js';
import { predictVolume } from '../inference/predict.js';
import { loadModel, saveModel, type ModelMeta } from '../inference/model.js';
import { writeFileAtomic } from '../util/fs.js';
import { Adadelta, Adam, Sgd, type Optimizer } from './optimizers.js';
import { parseConfig, type TrainConfig } from './config.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  patches: number;
  seconds: number;
  /** Validation metrics per organ name (means over validation cases; distances over the cases where defined). */
  validation: Record<string, Partial<Record<MetricName, number | null>>> | null;
  /** Mean validation Dice over organs: the number that picks the best epoch. */
  meanDice: number | null;
  best: boolean;
}

/** A run's epoch records (metrics.jsonl, written whole and atomically each epoch); none before the first epoch. */
export function readEpochRecords(runDir: string): EpochRecord[] {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line, i) => {
    try {
      return JSON.parse(line) as EpochRecord;
    } catch {
      throw new ComboSegError(`${path}:${i + 1}: not a JSON record`);
    }
  });
}

export interface TrainEvents {
  onStep?: (s: { epoch: number; index: number; total: number; loss: number }) => void;
  onEpoch?: (r: EpochRecord) => void;
  onValidation?: (done: number, total: number) => void;
  log?: (message: string) => void;
}

export interface TrainResult {
  runDir: string;
  records: EpochRecord[];
  bestEpoch: number | null;
  stopped: boolean;
}

/** Whether training should stop (Ctrl-C): checked between steps; the state is saved first. */
export interface StopSignal { stop: boolean }

function gitDescribe(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function splitDataset(cfg: TrainConfig, ds: Dataset): { train: DatasetCase[]; validation: DatasetCase[]; test: DatasetCase[] } {
  if (cfg.folds) {
    const f = kFold(ds.training, cfg.folds.k, cfg.folds.fold, cfg.folds.seed);
    if (cfg.folds.heldOut === 'validation') return { ...f, test: ds.test };
    const rest = splitCases(f.train, { validation: cfg.split.validation, test: 0, seed: cfg.split.seed });
    return { train: rest.train, validation: rest.validation, test: [...f.validation, ...ds.test] };
  }
  const s = splitCases(ds.training, { validation: cfg.split.validation, test: cfg.split.test, seed: cfg.split.seed });
  return { train: s.train, validation: s.validation, test: [...s.test, ...ds.test] };
}

function makeOptimizer(cfg: TrainConfig, params: Tensor[]): Optimizer {
  const o = cfg.optimizer;
  if (o.name === 'adadelta') return new Adadelta(params, o.lr, o.rho, o.eps);
  if (o.name === 'adam') return new Adam(params, o.lr, o.beta1, o.beta2, o.eps);
  return new Sgd(params, o.lr, o.momentum);
}

function makeSampler(cfg: TrainConfig, cases: SampleCase[], organs: number[], divisor: number): Sampler {
  const s = cfg.sampler;
  const check = s.patchSize.find((p) => p % divisor !== 0);
  if (check !== undefined && s.kind !== 'whole') {
    throw new ComboSegError(`config.sampler.patchSize [${s.patchSize}] must be a multiple of ${divisor} on every axis for network '${cfg.network.name}'`);
  }
  if (s.kind === 'paper') return new PaperSampler(cases, { patchSize: s.patchSize, organs, perOrgan: s.perOrgan, background: s.background, seed: cfg.seed });
  if (s.kind === 'ratio') return new RatioSampler(cases, { patchSize: s.patchSize, pos: s.pos, neg: s.neg, samplesPerCase: s.samplesPerCase, seed: cfg.seed });
  return new WholeVolumeSampler(cases, divisor);
}

/** Loads a run's configuration (for --resume). */
export function readRunConfig(runDir: string): TrainConfig {
  const p = join(runDir, 'config.json');
  if (!existsSync(p)) throw new ComboSegError(`${runDir}: not a run directory (no config.json)`);
  return parseConfig(JSON.parse(readFileSync(p, 'utf8')), p);
}

/**
 * Trains as `config` says, or resumes the run in `resume` (its own config is
 * used). Yields to the event loop between steps so progress and Ctrl-C get through.
 */
export async function train(config: unknown, o: { resume?: boolean; signal?: StopSignal; events?: TrainEvents } = {}): Promise<TrainResult> {
  const cfg = parseConfig(config);
  const runDir = resolve(cfg.out);
  const log = o.events?.log ?? (() => {});
  const lastPath = join(runDir, 'last.safetensors'), bestPath = join(runDir, 'best.safetensors');
  if (o.resume) {
    if (!existsSync(lastPath)) throw new ComboSegError(`${runDir}: nothing to resume (no last.safetensors)`);
  } else if (existsSync(join(runDir, 'config.json'))) {
    throw new ComboSegError(`${runDir} already holds a run; use --resume ${runDir} to continue it, or choose another out`);
  }
  mkdirSync(runDir, { recursive: true });

  const ds = openDataset(cfg.data);
  const parts = splitDataset(cfg, ds);
  if (!parts.train.length) throw new ComboSegError('no training cases after the split');
  const organs = ds.labels.values;
  log(`${ds.name}: ${parts.train.length} training, ${parts.validation.length} validation, ${parts.test.length} test case(s); organs ${ds.labels.names.join(', ')}`);

  // Training volumes in memory; dataset-wide statistics (or the stored ones when resuming).
  const loaded: { id: string; image: Volume; labels: Volume }[] = [];
  for (const c of parts.train) {
    const l = await loadCase(c);
    if (!l.labels) throw new ComboSegError(`training case '${c.id}' has no label`);
    loaded.push({ id: l.id, image: l.image, labels: l.labels });
  }
  let resumed: ReturnType<typeof loadModel> | null = null;
  let normalisation: Normalisation;
  if (o.resume) {
    resumed = loadModel(lastPath);
    normalisation = resumed.meta.normalisation;
  } else {
    normalisation = computeNormalisation(loaded.map((l) => l.image.data), cfg.normalisation.kind, cfg.normalisation.window);
  }
  const cases: SampleCase[] = loaded.map((l) => ({ id: l.id, image: normalise(l.image.data, normalisation), labels: l.labels.data, size: l.image.size }));

  let net: Network;
  try {
    net = createNetwork(cfg.network.name, { ...cfg.network.options, inChannels: 1, outChannels: organs.length, seed: cfg.seed });
  } catch (e) {
    throw e instanceof ComboSegError ? new ComboSegError(`config.network.options: ${e.message}`) : e;
  }
  if (resumed) {
    net.loadStateDict(resumed.network.stateDict());
    resumed.network.dispose();
  }
  let loss;
  try {
    loss = createLoss(cfg.loss.name, cfg.loss.options);
  } catch (e) {
    throw e instanceof ComboSegError ? new ComboSegError(`config.loss.options: ${e.message}`) : e;
  }
  const sampler = makeSampler(cfg, cases, organs, net.divisor);
  const optimizer = makeOptimizer(cfg, net.parameters());
  const epochPatches = Math.min(sampler.epochLength, cfg.patchesPerEpoch ?? Infinity);

  const meta = (epoch: number, dice: number | null): ModelMeta => ({
    network: net.name, options: net.options as unknown as Record<string, JsonValue>, labels: ds.labels, normalisation,
    perPatchMinMax: cfg.normalisation.perPatchMinMax, patchSize: cfg.sampler.patchSize, inference: cfg.inference, epoch, validationDice: dice,
  });
  let records: EpochRecord[] = [];
  let start = { epoch: 0, index: 0 };
  let best: { dice: number; epoch: number } | null = null;
  if (resumed) {
    const state = resumed.metadata.training as { epoch: number; index: number; optimizerSteps: number; best: { dice: number; epoch: number } | null };
    optimizer.loadState(Object.fromEntries(Object.entries(resumed.extra).map(([k, t]) => [k.replace(/^optim\./, ''), t])), state.optimizerSteps);
    dispose(resumed.extra);
    start = { epoch: state.epoch, index: state.index };
    best = state.best;
    records = readEpochRecords(runDir).filter((r) => r.epoch < start.epoch);
    log(`resuming at epoch ${start.epoch + 1}, patch ${start.index}`);
  } else {
    writeFileAtomic(join(runDir, 'config.json'), Buffer.from(JSON.stringify(cfg, null, 2)));
    writeFileAtomic(join(runDir, 'run.json'), Buffer.from(JSON.stringify({ codeVersion: gitDescribe(), started: new Date().toISOString(), node: process.version }, null, 2)));
    writeFileAtomic(join(runDir, 'split.json'), Buffer.from(JSON.stringify({ train: parts.train.map((c) => c.id), validation: parts.validation.map((c) => c.id), test: parts.test.map((c) => c.id) }, null, 2)));
  }

  const saveLast = (epoch: number, index: number) => {
    saveModel(lastPath, net, meta(epoch, best?.dice ?? null), {
      tensors: Object.fromEntries(Object.entries(optimizer.state()).map(([k, t]) => [`optim.${k}`, t])),
      metadata: { training: { epoch, index, optimizerSteps: optimizer.stepCount, best } as unknown as JsonValue, config: cfg as unknown as JsonValue },
    });
  };

  const validationCases = [];
  for (const c of parts.validation) validationCases.push(await loadCase(c));

  let stopped = false;
  const began = performance.now();
  for (let epoch = start.epoch; epoch < cfg.epochs && !stopped; epoch++) {
    const t0 = performance.now();
    const lastSeconds = records.length ? records[records.length - 1].seconds : 0;
    if (cfg.maxMinutes !== undefined && epoch > start.epoch && (t0 - began) / 1000 + lastSeconds > cfg.maxMinutes * 60) {
      log(`time limit: ${cfg.maxMinutes} min would pass during epoch ${epoch + 1}; ending after ${epoch} epoch(s)`);
      break;
    }
    net.train();
    let lossSum = 0, seen = 0;
    let index = epoch === start.epoch ? start.index : 0;
    while (index < epochPatches) {
      const batch: Patch[] = [];
      while (batch.length < cfg.batchSize && index < epochPatches) {
        const p = sampler.patch(epoch, index++);
        if (p) batch.push(p);
      }
      if (!batch.length) break;
      const value = tidy(() => {
        const { image, target } = toBatch(batch, organs, cfg.normalisation.perPatchMinMax);
        // The forward pass in its own scope, so saved activations are freed during backward.
        const l = tidy(() => loss(net.forward(image), target));
        l.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return l.item();
      });
      if (!Number.isFinite(value)) throw new ComboSegError(`training diverged: loss ${value} at epoch ${epoch + 1}, patch ${index}; lower the learning rate`);
      lossSum += value * batch.length;
      seen += batch.length;
      o.events?.onStep?.({ epoch, index, total: epochPatches, loss: value });
      await new Promise((r) => setImmediate(r));
      if (o.signal?.stop) {
        saveLast(epoch, index);
        log(`stopped at epoch ${epoch + 1}, patch ${index}; saved ${lastPath} (resume with --resume ${runDir})`);
        stopped = true;
        break;
      }
    }
    if (stopped) break;

    // Validation on whole volumes with the model's own inference.
    net.eval();
    let validation: EpochRecord['validation'] = null, meanDice: number | null = null;
    if (validationCases.length) {
      const acc = new MetricsAccumulator();
      for (const [k, c] of validationCases.entries()) {
        const pred = predictVolume(net, meta(epoch + 1, null), c.image);
        acc.add(evaluateCase(c.id, pred.labels, c.labels!, ds.labels));
        o.events?.onValidation?.(k + 1, validationCases.length);
        await new Promise((r) => setImmediate(r));
      }
      const summary = acc.summary();
      const keep: MetricName[] = ['dice', 'jaccard', 'fpr', 'fdr', 'fnr', 'hd95', 'assd'];
      validation = Object.fromEntries(Object.entries(summary.perOrgan).map(([organ, st]) => [organ, Object.fromEntries(keep.map((m) => [m, st[m].mean]))]));
      const dices = Object.values(summary.perOrgan).map((st) => st.dice.mean ?? 0);
      meanDice = dices.reduce((a, b) => a + b, 0) / dices.length;
    }
    const isBest = meanDice !== null && (best === null || meanDice > best.dice);
    if (isBest) best = { dice: meanDice!, epoch: epoch + 1 };
    const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / Math.max(1, seen), patches: seen, seconds: (performance.now() - t0) / 1000, validation, meanDice, best: isBest };
    records.push(record);
    if (isBest || (!validationCases.length)) saveModel(bestPath, net, meta(epoch + 1, meanDice));
    saveLast(epoch + 1, 0);
    writeFileAtomic(join(runDir, 'metrics.jsonl'), Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    o.events?.onEpoch?.(record);
  }
  optimizer.dispose();
  net.dispose();
  return { runDir, records, bestEpoch: best?.epoch ?? null, stopped };
}
