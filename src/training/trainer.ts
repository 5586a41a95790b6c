// The training loop in named stages (nnU-Net's trainer hooks, PyTorch Lightning's):
//
//   setup       open the data set, split it, load the training volumes, normalise, build the
//               network, loss, optimiser and sampler; start the run directory or resume from it
//   trainEpoch  sampled patches → `step` (forward, loss, backward, optimiser) until the epoch's
//               patches are used or a stop is asked for (then the state is saved first)
//   validate    whole-volume inference with the model's own settings, metrics per organ
//   checkpoint  the epoch's record; best.safetensors when validation Dice improves (the paper's
//               rule), then metrics.jsonl, then last.safetensors (the position to resume from)
//
// The run directory and its files belong to `RunDir` (run-dir.ts). Resuming continues exactly: the
// sampler is a pure function of (seed, epoch, index) and the initialisation is seeded.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { tidy, dispose } from '../engine/scope.js';
import { to } from '../engine/device.js';
import type { Precision } from '../engine/precision.js';
import { cpuPrecision, resolvePrecision } from '../engine/precision-default.js';
import type { Tensor } from '../engine/tensor.js';
import { create as createNetwork } from '../networks/registry.js';
import type { Network } from '../networks/network.js';
import { create as createLoss, lossLayout } from '../losses/registry.js';
import { frequencyWeights } from '../losses/wce.js';
import { outputChannels, type OutputLayout } from '../data/layout.js';
import type { Loss } from '../losses/loss.js';
import { openDataset, split as splitCases, kFold, loadCase, type Dataset, type DatasetCase } from '../data/datasets.js';
import type { Normalisation } from '../data/normalise.js';
import { createSampler, type Sampler, type SampleCase } from '../data/sampler.js';
import { inputChannels, trainingCases } from './training-cases.js';
import { batchOf } from '../data/patch.js';
import type { PreparedPatch } from '../data/prepared.js';
import { PatchPipeline } from '../data/pipeline.js';
import type { Vec3, Volume } from '../data/volume.js';
import { evaluateCase, MetricsAccumulator, type CaseMetrics } from '../metrics/evaluate.js';
import type { MetricName } from '../metrics/overlap.js';
import { predictVolume } from '../inference/predict.js';
import { loadModel, saveModel, type LoadedModel, type ModelMeta } from '../inference/model.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { learningRate } from './schedules.js';
import { parseConfig, type TrainConfig } from './config.js';
import { toJson } from '../util/json.js';
import { FolderLock } from '../util/lock.js';
import {
  allGatherJson,
  anyRank,
  barrier,
  broadcastBuffers,
  broadcastModule,
  fromRankZero,
  GradientReducer,
  syncBatchNorms,
  worldInfo,
} from './distributed.js';
import { currentRunInfo, RunDir, RUN_FILES, type EpochRecord, type RunSplit, type TrainingState } from './run-dir.js';

// Their home is run-dir.ts; exported here too for the code that imported them from the trainer.
export { readEpochRecords, readRunConfig, type EpochRecord } from './run-dir.js';

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
export interface StopSignal {
  stop: boolean;
}

export interface TrainOptions {
  resume?: boolean;
  /** Start over in a folder that already holds a run (its files are removed first). */
  force?: boolean;
  signal?: StopSignal;
  events?: TrainEvents;
}

/**
 * Trains as `config` says, or resumes the run in `resume` (its own config is
 * used). Yields to the event loop between steps so progress and Ctrl-C get through.
 */
export async function train(config: unknown, o: TrainOptions = {}): Promise<TrainResult> {
  const cfg = parseConfig(config);
  const log = (m: string): void => o.events?.log?.(m);
  const run = new RunDir(resolve(cfg.out));
  const existed = existsSync(run.path);
  // Rank 0 alone writes the run directory (the other ranks of a data-parallel run only read it).
  const lead = worldInfo().rank === 0;
  if (lead) run.create();
  // One writer per run directory; what a dead writer left half-written goes first.
  const lock = lead ? FolderLock.acquire(run.path, o.resume ? 'train --resume' : 'train', log) : null;
  try {
    if (lead) {
      const stale = run.removeStaleTemporaries();
      if (stale.length) log(`${run.path}: removed ${stale.length} file(s) a stopped writer left (${stale.join(', ')})`);
    }
    const trainer = await Trainer.setup(cfg, o);
    return await trainer.run();
  } finally {
    lock?.release();
    // A run refused before it wrote anything leaves no empty folder behind.
    if (!existed && existsSync(run.path) && readdirSync(run.path).length === 0) {
      rmSync(run.path, { recursive: true, force: true });
    }
  }
}

type Parts = { train: DatasetCase[]; validation: DatasetCase[]; test: DatasetCase[] };
type LoadedCase = Awaited<ReturnType<typeof loadCase>>;
type Best = TrainingState['best'];

/** The loss and patch count of one epoch's training, and whether a stop cut it short. */
interface EpochTraining {
  lossSum: number;
  seen: number;
  stopped: boolean;
  /** Seconds the steps waited for patches. */
  dataWaitSeconds?: number;
}
/** One epoch's validation: per-organ metrics and their mean Dice (null without validation cases). */
interface EpochValidation {
  validation: EpochRecord['validation'];
  meanDice: number | null;
}

/** Everything setup makes; the stages read it, and the loop advances `records` and `best`. */
interface Session {
  cfg: TrainConfig;
  run: RunDir;
  o: TrainOptions;
  ds: Dataset;
  /** Statistics per input channel. */
  normalisation: Normalisation[];
  /** The spacing training resampled to (predictions are made on it and mapped back), or none. */
  spacing: Vec3 | undefined;
  layout: OutputLayout;
  net: Network;
  loss: Loss;
  optimizer: Optimizer;
  sampler: Sampler;
  /** Patches cut and prepared ahead of the step, in worker threads. */
  pipeline: PatchPipeline;
  epochPatches: number;
  validationCases: LoadedCase[];
  /** Averages gradients over ranks (nothing to do in a single process). */
  reducer: GradientReducer;
  /** Rank 0 writes the run directory, checkpoints and records. */
  lead: boolean;
  start: { epoch: number; index: number };
  records: EpochRecord[];
  best: Best;
}

export class Trainer {
  private constructor(private readonly s: Session) {}

  private get organs(): number[] {
    return this.s.ds.labels.values;
  }
  private log(message: string): void {
    this.s.o.events?.log?.(message);
  }

  /** Stage 1: the run directory, data, normalisation, network, loss, optimiser, sampler; resume state. */
  static async setup(cfg: TrainConfig, o: TrainOptions = {}): Promise<Trainer> {
    const log = (m: string) => o.events?.log?.(m);
    o = { ...o }; // openRunDir may find nothing to resume: the caller's options stay as given
    const lead = worldInfo().rank === 0;
    // Rank 0 settles the run directory (a fresh start, a resume, a start over) before any other rank reads it.
    const run = lead ? openRunDir(cfg, o, log) : new RunDir(resolve(cfg.out));
    barrier();
    if (!lead) o.resume = Boolean(o.resume) && run.hasLast();
    checkBatchForRanks(cfg);
    const { ds, parts } = openData(cfg, log);
    const organs = ds.labels.values;
    const resumed = o.resume ? loadModel(run.lastPath) : null;
    const data = await sessionData(cfg, ds, parts, resumed, log);
    const { cases, channels, normalisation, spacing, layout, loss, validationCases } = data;
    // From here on native memory is held: a failure frees it before it propagates (in-process runs go on).
    const net = buildNetwork(cfg, organs, layout, channels);
    let optimizer: Optimizer | null = null;
    let pipeline: PatchPipeline | null = null;
    let rest;
    try {
      if (resumed) net.loadStateDict(resumed.network.stateDict());
      net.to(cfg.device); // data stays on the CPU until a batch is made; the optimiser's state follows the weights
      prepareForRanks(cfg, net, log);
      // Training and validation compute in it (weights stay float32); a resumed 'auto' run keeps its own.
      net.precision = agreedPrecision(runPrecision(cfg, resumed ? startedPrecision(run) : undefined, log));
      optimizer = makeOptimizer(cfg, net.parameters());
      checkSchedule(cfg, optimizer);
      const sampler = makeSampler(cfg, cases, organs, net.divisor);
      const epochPatches = Math.min(sampler.epochLength, cfg.patchesPerEpoch ?? Infinity);
      checkPatchesForRanks(epochPatches);
      pipeline = makePipeline(cfg, cases, { organs, divisor: net.divisor, layout }, epochPatches);
      const progress = resumed
        ? restoreState(run, resumed, optimizer, net.precision, log)
        : lead
          ? startRun(run, cfg, parts, net.precision)
          : { start: { epoch: 0, index: 0 }, records: [], best: null };
      checkSameStart(progress.start, optimizer.stepCount);
      const reducer = new GradientReducer(net.parameters());
      rest = { optimizer, sampler, pipeline, epochPatches, reducer, lead, ...progress };
    } catch (e) {
      void pipeline?.close();
      optimizer?.dispose();
      net.dispose();
      if (resumed) dispose(resumed.extra);
      throw e;
    } finally {
      resumed?.network.dispose();
    }
    return new Trainer({ cfg, run, o, ds, normalisation, layout, net, loss, validationCases, spacing, ...rest });
  }

  /** Epochs from where the run stands to `cfg.epochs` (or the time limit, or a stop). Once: it disposes the model. */
  async run(): Promise<TrainResult> {
    const { cfg, start } = this.s;
    let stopped = false;
    const began = performance.now();
    try {
      for (let epoch = start.epoch; epoch < cfg.epochs; epoch++) {
        const t0 = performance.now();
        // Rank 0's clock decides for all: the ranks must run the same epochs.
        if (epoch > start.epoch && fromRankZero(this.outOfTime(epoch, (t0 - began) / 1000) ? 1 : 0) === 1) break;
        const waited = this.s.pipeline.waitedSeconds;
        const trained = await this.trainEpoch(epoch);
        trained.dataWaitSeconds = this.s.pipeline.waitedSeconds - waited;
        if (trained.stopped) {
          stopped = true;
          break;
        }
        const validated = await this.validate(epoch);
        this.checkpoint(epoch, trained, validated, (performance.now() - t0) / 1000);
      }
    } finally {
      await this.s.pipeline.close();
      this.s.optimizer.dispose();
      this.s.net.dispose();
    }
    return { runDir: this.s.run.path, records: this.s.records, bestEpoch: this.s.best?.epoch ?? null, stopped };
  }

  /** Whether the next epoch would end past `cfg.maxMinutes` (judged by the last epoch's length). */
  private outOfTime(epoch: number, elapsedSeconds: number): boolean {
    const { cfg, records } = this.s;
    if (cfg.maxMinutes === undefined) return false;
    const lastSeconds = records.length ? records[records.length - 1].seconds : 0;
    if (elapsedSeconds + lastSeconds <= cfg.maxMinutes * 60) return false;
    this.log(`time limit: ${cfg.maxMinutes} min would pass during epoch ${epoch + 1}; ending after ${epoch} epoch(s)`);
    return true;
  }

  /** Stage 2: steps over the epoch's patches (from `start.index` when resuming into it); saves last on a stop. */
  private async trainEpoch(epoch: number): Promise<EpochTraining> {
    const { start, epochPatches, run } = this.s;
    this.s.net.train();
    let lossSum = 0,
      seen = 0;
    let index = epoch === start.epoch ? start.index : 0;
    while (index < epochPatches) {
      const batchStart = index;
      const batch = await this.nextBatch(epoch, index);
      index = batch.next;
      if (!batch.patches.length) break;
      const mine = rankShare(batch.patches);
      // A last batch smaller than the number of ranks would leave a rank without data: every rank skips it.
      if (mine === null) continue;
      const value = this.step(mine, { epoch, index: batchStart });
      if (!Number.isFinite(value)) {
        throw new ComboSegError(
          `training diverged: loss ${value} at epoch ${epoch + 1}, patch ${index}; lower the learning rate`,
          { code: 'diverged' },
        );
      }
      lossSum += value * batch.patches.length;
      seen += batch.patches.length;
      this.s.o.events?.onStep?.({ epoch, index, total: epochPatches, loss: value });
      await new Promise((r) => setImmediate(r));
      // A stop asked of any rank stops every rank after the same step.
      if (anyRank(Boolean(this.s.o.signal?.stop))) {
        this.saveLast(epoch, index);
        const where = `epoch ${epoch + 1}, patch ${index}`;
        this.log(`stopped at ${where}; saved ${run.lastPath} (resume with --resume ${run.path})`);
        return { lossSum, seen, stopped: true };
      }
    }
    return { lossSum, seen, stopped: false };
  }

  /**
   * Up to batchSize patches from `index` on (the sampler may skip some); `next` is the index after them.
   * The global batch: every rank cuts the same patches and takes its share (rankShare).
   */
  private async nextBatch(epoch: number, index: number): Promise<{ patches: PreparedPatch[]; next: number }> {
    const patches: PreparedPatch[] = [];
    while (patches.length < this.s.cfg.batchSize && index < this.s.epochPatches) {
      const p = await this.s.pipeline.patch(epoch, index++);
      if (p) patches.push(p);
    }
    return { patches, next: index };
  }

  /** One optimisation step: forward, loss, backward, optimiser step; returns the batch's loss. */
  private step(patches: PreparedPatch[], position: { epoch: number; index: number }): number {
    const { net, loss, optimizer, cfg } = this.s;
    return tidy(() => {
      const batch = batchOf(patches, outputChannels(this.s.layout, this.organs.length));
      const image = to(batch.image, cfg.device),
        target = to(batch.target, cfg.device);
      // The forward pass in its own scope, so saved activations are freed during backward.
      const l = tidy(() => loss(net.run(image), target));
      l.backward();
      this.s.reducer.reduce();
      // The rate at this position of the run, counted in patches (epoch + index / patches per epoch): steps the
      // sampler or the ranks skip do not stretch the schedule, and a resumed run gets the same rates.
      const { epochPatches } = this.s;
      const at = position.epoch * epochPatches + position.index;
      optimizer.lr = learningRate(cfg.lrSchedule, optimizer.baseLr, at, epochPatches, cfg.epochs);
      optimizer.step();
      optimizer.zeroGrad();
      return l.item();
    });
  }

  /** Stage 3: the validation cases segmented whole with the model's own inference, and scored. */
  private async validate(epoch: number): Promise<EpochValidation> {
    const { net, validationCases, ds } = this.s;
    net.eval();
    if (!validationCases.length) return { validation: null, meanDice: null };
    // Each rank segments every world-th case with rank 0's batch-norm statistics; all ranks gather the scores.
    broadcastBuffers(net);
    const { rank, worldSize } = worldInfo();
    const mine: CaseMetrics[] = [];
    for (let k = rank; k < validationCases.length; k += worldSize) {
      const c = validationCases[k];
      if (!c.labels) throw new ComboSegError(`validation case '${c.id}' has no label`, { code: 'invalid-input' });
      const pred = predictVolume(net, this.modelMeta(epoch + 1, null), c.image);
      mine.push(evaluateCase(c.id, pred.labels, c.labels, ds.labels));
      this.s.o.events?.onValidation?.(Math.min(k + worldSize, validationCases.length), validationCases.length);
      await new Promise((r) => setImmediate(r));
    }
    const gathered = allGatherJson(mine);
    const acc = new MetricsAccumulator();
    // In the cases' own order, as one process adds them.
    validationCases.forEach((_, k) => acc.add(gathered[k % worldSize][Math.floor(k / worldSize)]));
    const perOrgan = acc.summary().perOrgan;
    const keep: MetricName[] = ['dice', 'jaccard', 'fpr', 'fdr', 'fnr', 'hd95', 'assd'];
    const validation = Object.fromEntries(
      Object.entries(perOrgan).map(([organ, st]) => [organ, Object.fromEntries(keep.map((m) => [m, st[m].mean]))]),
    );
    const dices = Object.values(perOrgan).map((st) => st.dice.mean ?? 0);
    return { validation, meanDice: dices.reduce((a, b) => a + b, 0) / dices.length };
  }

  /** Stage 4: the epoch's record; best (if it improved, or always without validation), last, metrics.jsonl. */
  private checkpoint(epoch: number, trained: EpochTraining, v: EpochValidation, seconds: number): void {
    const { run, net, records } = this.s;
    const isBest = v.meanDice !== null && (this.s.best === null || v.meanDice > this.s.best.dice);
    if (isBest && v.meanDice !== null) this.s.best = { dice: v.meanDice, epoch: epoch + 1 };
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: trained.lossSum / Math.max(1, trained.seen),
      patches: trained.seen,
      seconds,
      dataWaitSeconds: trained.dataWaitSeconds ?? 0,
      validation: v.validation,
      meanDice: v.meanDice,
      best: isBest,
    };
    records.push(record);
    if (this.s.lead) {
      if (isBest || !this.s.validationCases.length) saveModel(run.bestPath, net, this.modelMeta(epoch + 1, v.meanDice));
      // The record before the position: a run killed between the two redoes the epoch from the last position
      // and records it once (the other order would leave a finished epoch with no record).
      run.writeEpochRecords(records);
      this.saveLast(epoch + 1, 0);
    }
    this.s.o.events?.onEpoch?.(record);
  }

  /** last.safetensors: the model, the optimiser state and where to resume (epoch, index). */
  private saveLast(epoch: number, index: number): void {
    const { run, net, optimizer, cfg, best } = this.s;
    if (!this.s.lead) return;
    const state: TrainingState = { epoch, index, optimizerSteps: optimizer.stepCount, best };
    saveModel(run.lastPath, net, this.modelMeta(epoch, best?.dice ?? null), {
      tensors: Object.fromEntries(Object.entries(optimizer.state()).map(([k, t]) => [`optim.${k}`, t])),
      metadata: run.lastMetadata(state, cfg),
    });
  }

  /** What inference needs to reproduce training's view of the data, at `epoch`. */
  private modelMeta(epoch: number, validationDice: number | null): ModelMeta {
    const { net, cfg, ds, normalisation, layout, spacing } = this.s;
    const options = toJson(net.options);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new Error(`${net.name}: options are not a JSON object`);
    }
    return {
      network: net.name,
      options,
      labels: ds.labels,
      normalisation,
      ...(ds.channels ? { channels: ds.channels } : {}),
      perPatchMinMax: cfg.normalisation.perPatchMinMax,
      ...(spacing ? { spacing } : {}),
      patchSize: cfg.sampler.patchSize,
      inference: cfg.inference,
      epoch,
      validationDice,
      layout,
    };
  }
}

/**
 * The run directory: a new run needs a fresh one (or `force`), a resumed run its last checkpoint. A run
 * that stopped before its first checkpoint has nothing to resume from: it starts over, saying so.
 * `o.resume` is cleared when there is nothing to resume.
 */
function openRunDir(cfg: TrainConfig, o: TrainOptions, log: (m: string) => void): RunDir {
  const run = new RunDir(resolve(cfg.out));
  if (o.resume && !run.hasLast()) {
    if (!run.hasConfig()) {
      throw new ComboSegError(`${run.path}: nothing to resume (no ${RUN_FILES.config}, no ${RUN_FILES.last})`, {
        code: 'not-found',
        path: run.lastPath,
      });
    }
    log(`${run.path}: the run stopped before its first checkpoint; starting it over`);
    run.clear();
    o.resume = false;
  } else if (!o.resume && run.hasConfig()) {
    if (!o.force) {
      throw new ComboSegError(
        `${run.path} already holds a run; use --resume ${run.path} to continue it, --force to start it over, ` +
          'or choose another out',
        { code: 'conflict', path: run.path },
      );
    }
    log(`${run.path}: --force: removing the run that was there and starting over`);
    run.clear();
  }
  run.create();
  return run;
}

function openData(cfg: TrainConfig, log: (m: string) => void): { ds: Dataset; parts: Parts } {
  const ds = openDataset(cfg.data);
  const parts = splitDataset(cfg, ds);
  if (!parts.train.length) throw new ComboSegError('no training cases after the split', { code: 'invalid-input' });
  const { train, validation, test } = parts;
  const counts = `${train.length} training, ${validation.length} validation, ${test.length} test case(s)`;
  log(`${ds.name}: ${counts}; organs ${ds.labels.names.join(', ')}`);
  return { ds, parts };
}

function splitDataset(cfg: TrainConfig, ds: Dataset): Parts {
  if (cfg.folds) {
    const f = kFold(ds.training, cfg.folds.k, cfg.folds.fold, cfg.folds.seed);
    if (cfg.folds.heldOut === 'validation') return { ...f, test: ds.test };
    const rest = splitCases(f.train, { validation: cfg.split.validation, test: 0, seed: cfg.split.seed });
    return { train: rest.train, validation: rest.validation, test: [...f.validation, ...ds.test] };
  }
  const s = splitCases(ds.training, { validation: cfg.split.validation, test: cfg.split.test, seed: cfg.split.seed });
  return { train: s.train, validation: s.validation, test: [...s.test, ...ds.test] };
}

/** The output layout the configuration's loss trains (sigmoid: one channel per organ; softmax: + background). */
export function lossLayoutOf(cfg: TrainConfig): OutputLayout {
  try {
    return lossLayout(cfg.loss.name, cfg.loss.options);
  } catch (e) {
    throw optionError(e, 'config.loss.options');
  }
}

/** The network of `cfg.network` for these organs (channels as the layout says) and input channels, seeded. */
export function buildNetwork(
  cfg: TrainConfig,
  organs: number[],
  layout: OutputLayout = 'sigmoid',
  inChannels = 1,
): Network {
  try {
    const outChannels = outputChannels(layout, organs.length);
    const options = { ...cfg.network.options, inChannels, outChannels, seed: cfg.seed };
    return createNetwork(cfg.network.name, options);
  } catch (e) {
    throw optionError(e, 'config.network.options');
  }
}

/**
 * WCE's class weights by a rule ('inverse-frequency', 'median-frequency') are computed once, from
 * the voxels of every training label map (background first, then the organs), as SegNet does;
 * undefined for every other loss, or weights given as numbers.
 */
export function classWeightsFrom(
  cfg: TrainConfig,
  cases: { labels: Pick<Volume, 'data'> }[],
  organs: number[],
  log: (m: string) => void = () => undefined,
): number[] | undefined {
  const rule = cfg.loss.name === 'wce' ? (cfg.loss.options.weights ?? 'inverse-frequency') : undefined;
  if (rule !== 'inverse-frequency' && rule !== 'median-frequency') return undefined;
  const classes = [0, ...organs];
  const counts = classes.map(() => 0);
  const index = new Map(classes.map((v, i) => [v, i]));
  for (const c of cases) {
    const data = c.labels.data;
    // A value that is no organ (one trained as background) counts as background, as its target does.
    for (let i = 0; i < data.length; i++) counts[index.get(data[i]) ?? 0]++;
  }
  const weights = frequencyWeights(counts, rule);
  log(`wce: ${rule} class weights from the training set: ${weights.map((w) => w.toPrecision(3)).join(', ')}`);
  return weights;
}

/** The loss of `cfg.loss`; `weights` (WCE's, from the training set) replace a weight rule. */
export function buildLoss(cfg: TrainConfig, weights?: number[]): Loss {
  try {
    return createLoss(cfg.loss.name, weights ? { ...cfg.loss.options, weights } : cfg.loss.options);
  } catch (e) {
    throw optionError(e, 'config.loss.options');
  }
}

/** A factory's option error as one of the configuration at `where` (its option name appended to the path). */
function optionError(e: unknown, where: string): unknown {
  if (!(e instanceof ComboSegError)) return e;
  const path = e.path === undefined ? where : e.path.startsWith('config.') ? e.path : `${where}.${e.path}`;
  return e.rewrap(`${where}: ${e.message}`, { code: 'invalid-option', path });
}

/** The optimiser of `cfg.optimizer` over the network's parameters. */
export function makeOptimizer(cfg: TrainConfig, params: Tensor[]): Optimizer {
  return createOptimizer(cfg.optimizer, params);
}

/** The pipeline that cuts, augments and prepares the run's patches ahead of the step. */
function makePipeline(
  cfg: TrainConfig,
  cases: SampleCase[],
  o: { organs: number[]; divisor: number; layout: OutputLayout },
  epochPatches: number,
): PatchPipeline {
  const { perPatchMinMax } = cfg.normalisation;
  const spec = { ...o, cases, sampler: cfg.sampler, seed: cfg.seed, perPatchMinMax, augmentation: cfg.augmentation };
  return new PatchPipeline(spec, epochPatches, cfg.pipeline);
}

/** The sampler of `cfg.sampler`; patch sizes must be multiples of the network's divisor. */
export function makeSampler(cfg: TrainConfig, cases: SampleCase[], organs: number[], divisor: number): Sampler {
  const s = cfg.sampler;
  if (s.kind !== 'whole' && s.patchSize.some((p) => p % divisor !== 0)) {
    const why = `must be a multiple of ${divisor} on every axis for network '${cfg.network.name}'`;
    throw new ComboSegError(`config.sampler.patchSize [${s.patchSize}] ${why}`, {
      code: 'invalid-option',
      path: 'config.sampler.patchSize',
    });
  }
  return createSampler(s, cases, { organs, divisor, seed: cfg.seed });
}

/**
 * The precision of `cfg.precision` made concrete for the run's device ('auto': the CPU's measured choice,
 * fp32 on CUDA; a resumed 'auto' run: the precision it started in, so that resuming reaches the weights
 * an uninterrupted run would), logged with why.
 */
function runPrecision(
  cfg: TrainConfig,
  started: Precision | 'before-precision' | undefined,
  log: (m: string) => void,
): Precision {
  if (cfg.precision === 'auto' && started !== undefined) {
    if (started === 'before-precision') {
      log('precision: fp32 (auto: the run started before comboseg had bf16, in fp32)');
      return 'fp32';
    }
    log(`precision: ${started} (auto: the precision the run started in)`);
    return started;
  }
  const precision = resolvePrecision(cfg.precision, cfg.device);
  let why = 'as configured';
  if (cfg.precision === 'auto') why = cfg.device === 'cpu' ? `auto: ${cpuPrecision().reason}` : `auto on ${cfg.device}`;
  log(`precision: ${precision} (${why})`);
  return precision;
}

/**
 * The precision a run's run.json says it started in; 'before-precision' for a run.json written before
 * there was a choice (those runs computed in fp32); undefined when there is no readable run.json.
 */
function startedPrecision(run: RunDir): Precision | 'before-precision' | undefined {
  try {
    return run.readInfo().precision ?? 'before-precision';
  } catch {
    return undefined; // run.json is informative: resuming does not depend on it
  }
}

/** A new run: its configuration, run.json (with the precision computed in) and split written before the first step. */
function startRun(
  run: RunDir,
  cfg: TrainConfig,
  parts: Parts,
  precision: Precision,
): Pick<Session, 'start' | 'records' | 'best'> {
  run.writeConfig(cfg);
  run.writeInfo({ ...currentRunInfo(), precision });
  const ids = (cs: DatasetCase[]) => cs.map((c) => c.id);
  const split: RunSplit = { train: ids(parts.train), validation: ids(parts.validation), test: ids(parts.test) };
  run.writeSplit(split);
  return { start: { epoch: 0, index: 0 }, records: [], best: null };
}

/** A resumed run: the optimiser state and position from last.safetensors, the records of finished epochs. */
function restoreState(
  run: RunDir,
  resumed: LoadedModel,
  optimizer: Optimizer,
  precision: Precision,
  log: (m: string) => void,
): Pick<Session, 'start' | 'records' | 'best'> {
  let state: TrainingState;
  try {
    state = run.readTrainingState(resumed.metadata);
    const optimState = Object.entries(resumed.extra).map(([k, t]) => [k.replace(/^optim\./, ''), t] as const);
    optimizer.loadState(Object.fromEntries(optimState), state.optimizerSteps);
  } finally {
    dispose(resumed.extra);
  }
  const start = { epoch: state.epoch, index: state.index };
  // Records of the epochs finished (1-based epoch ≤ epochs done); a later one would be redone.
  const records = run.readEpochRecords().filter((r) => r.epoch <= start.epoch);
  log(`resuming at epoch ${start.epoch + 1}, patch ${start.index}`);
  noteResumedPrecision(run, precision, log);
  return { start, records, best: state.best };
}

/** A resumed run told to compute in another precision than it started in says so. */
function noteResumedPrecision(run: RunDir, precision: Precision, log: (m: string) => void): void {
  const started = startedPrecision(run);
  if (started !== undefined && started !== 'before-precision' && started !== precision) {
    log(`${run.infoPath}: the run started in ${started}; it continues in ${precision}`);
  }
}

/** A global batch needs at least one patch per rank. */
function checkBatchForRanks(cfg: TrainConfig): void {
  const { worldSize } = worldInfo();
  if (cfg.batchSize < worldSize) {
    const why = `is the global batch, split over ${worldSize} processes: it needs at least one patch per process`;
    throw new ComboSegError(`config.batchSize ${cfg.batchSize} ${why}`, {
      code: 'invalid-option',
      path: 'config.batchSize',
    });
  }
}

/** This rank's contiguous share of a global batch (as even as can be); null when some rank would get none. */
export function rankShare<T>(batch: T[], { rank, worldSize } = worldInfo()): T[] | null {
  if (batch.length < worldSize) return null;
  const from = Math.floor((rank * batch.length) / worldSize);
  return batch.slice(from, Math.floor(((rank + 1) * batch.length) / worldSize));
}

/** In a data-parallel run: batch norms synchronised if asked, and every rank starting from rank 0's weights. */
function prepareForRanks(cfg: TrainConfig, net: Network, log: (m: string) => void): void {
  const { worldSize } = worldInfo();
  if (worldSize === 1) return;
  if (cfg.distributed.syncBatchNorm)
    log(`sync-bn: ${syncBatchNorms(net)} batch norm(s) take statistics over all ranks`);
  broadcastModule(net);
}

const PRECISIONS: Precision[] = ['fp32', 'bf16'];
/** Rank 0's precision on every rank (each rank's 'auto' is measured on its own machine). */
function agreedPrecision(p: Precision): Precision {
  return PRECISIONS[fromRankZero(PRECISIONS.indexOf(p))];
}

/** Every rank needs a patch of each step: an epoch of fewer patches than ranks would train nothing. */
function checkPatchesForRanks(epochPatches: number): void {
  const { worldSize } = worldInfo();
  if (epochPatches >= worldSize) return;
  throw new ComboSegError(`an epoch of ${epochPatches} patch(es) cannot be split over ${worldSize} processes`, {
    code: 'invalid-option',
    path: 'config.patchesPerEpoch',
  });
}

/**
 * Every rank starts where rank 0 does (epoch, patch, optimiser steps): a host whose copy of the run directory
 * is missing or older would otherwise train from elsewhere, silently. All ranks fail together.
 */
function checkSameStart(start: { epoch: number; index: number }, steps: number): void {
  const { rank, worldSize } = worldInfo();
  if (worldSize === 1) return;
  const mine = [start.epoch, start.index, steps];
  const lead = mine.map((v) => fromRankZero(v));
  const differs = lead.some((v, i) => v !== mine[i]);
  if (!anyRank(differs)) return;
  const at = (v: number[]) => `epoch ${v[0] + 1}, patch ${v[1]} (${v[2]} optimiser steps)`;
  const why = differs ? `this rank would start at ${at(mine)}, rank 0 at ${at(lead)}` : 'another rank would not';
  throw new ComboSegError(
    `rank ${rank}: the ranks do not resume from the same place (${why}); every host needs the run directory ` +
      'as rank 0 has it (a shared file system, or a copy of the whole folder)',
    { code: 'distributed' },
  );
}

/** A schedule that cannot run over this configuration (a warm-up as long as the run) fails before training. */
function checkSchedule(cfg: TrainConfig, optimizer: Optimizer): void {
  try {
    learningRate(cfg.lrSchedule, optimizer.baseLr, 0, 1, cfg.epochs);
  } catch (e) {
    throw optionError(e, 'config.lrSchedule');
  }
}

/**
 * The data side of setup: training cases, layout, loss (with WCE's weights), validation cases. A resumed
 * checkpoint, already loaded, is freed when this fails (an in-process run, a grid's, goes on).
 */
async function sessionData(
  cfg: TrainConfig,
  ds: Dataset,
  parts: Parts,
  resumed: LoadedModel | null,
  log: (m: string) => void,
) {
  try {
    const t = await trainingCases(cfg, ds, parts.train, resumed, log);
    const layout = lossLayoutOf(cfg);
    const loss = buildLoss(cfg, classWeightsFrom(cfg, t.labels, ds.labels.values, log));
    const validationCases: LoadedCase[] = [];
    for (const c of parts.validation) validationCases.push(await loadCase(c));
    inputChannels(ds, validationCases, t.channels);
    return { ...t, layout, loss, validationCases };
  } catch (e) {
    if (resumed) {
      resumed.network.dispose();
      dispose(resumed.extra);
    }
    throw e;
  }
}
