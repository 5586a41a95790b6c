// A run directory, the unit of reproducibility, and the one owner of its file names and formats:
//
//   config.json       the resolved training configuration (`TrainConfig`, every default filled in)
//   run.json          how it was run: code version (git describe), start time, Node version, and the
//                     precision the network computed in (config.json keeps the setting, e.g. 'auto')
//   split.json        the case ids of each part: { train, validation, test }
//   metrics.jsonl     one `EpochRecord` per line, rewritten whole after each epoch
//   best.safetensors  the model of the epoch with the best validation Dice (see inference/model.ts)
//   last.safetensors  the latest model, its optimiser state and, in its metadata, the `TrainingState`
//                     to resume from and the configuration
//
// Every write is atomic (a crash leaves the old file or the new one); every reader checks what it
// reads and names the file (and line) when it is not what it should be. The trainer writes a run
// directory; the server, the experiments and `resolveModelPath` read one through this module.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ComboSegError } from '../engine/errors.js';
import type { JsonValue } from '../engine/safetensors.js';
import type { Precision } from '../engine/precision.js';
import type { MetricName } from '../metrics/overlap.js';
import { removeStaleWrites, writeFileAtomic } from '../util/fs.js';
import { toJson } from '../util/json.js';
import { modelFile } from '../inference/model.js';
import { parseConfig, type TrainConfig } from './config.js';

/** One epoch of training, as a line of metrics.jsonl. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  patches: number;
  seconds: number;
  /** Seconds of `seconds` the steps waited for patches (the data pipeline not keeping up); absent in older runs. */
  dataWaitSeconds?: number;
  /** Validation metrics per organ name (means over validation cases; distances over the cases where defined). */
  validation: Record<string, Partial<Record<MetricName, number | null>>> | null;
  /** Mean validation Dice over organs: the number that picks the best epoch. */
  meanDice: number | null;
  best: boolean;
}

/** run.json. */
export interface RunInfo {
  /** `git describe --always --dirty` of the code that started the run, or 'unknown'. */
  codeVersion: string;
  /** ISO 8601. */
  started: string;
  /** `process.version`. */
  node: string;
  /** What the network computed in when the run started (`precision` resolved); absent in older runs. */
  precision?: Precision;
}

/** split.json: the case ids of each part. */
export interface RunSplit {
  train: string[];
  validation: string[];
  test: string[];
}

/** Where a run stands, stored in last.safetensors' metadata under `training`. */
export interface TrainingState {
  /** Epochs finished (0-based index of the epoch to continue). */
  epoch: number;
  /** Patches of that epoch already trained on. */
  index: number;
  optimizerSteps: number;
  /** The best validation Dice so far and its (1-based) epoch. */
  best: { dice: number; epoch: number } | null;
}

/** The file names of a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  info: 'run.json',
  split: 'split.json',
  metrics: 'metrics.jsonl',
  best: 'best.safetensors',
  last: 'last.safetensors',
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumberOrNull = (v: unknown): v is number | null => v === null || isFiniteNumber(v);

/** Per organ, per metric: a number or null. */
function validationOf(v: unknown): EpochRecord['validation'] | undefined {
  if (v === null) return null;
  if (!isObject(v)) return undefined;
  const out: NonNullable<EpochRecord['validation']> = {};
  for (const [organ, metrics] of Object.entries(v)) {
    if (!isObject(metrics)) return undefined;
    const m: Record<string, number | null> = {};
    for (const [name, x] of Object.entries(metrics)) {
      if (!isNumberOrNull(x)) return undefined;
      m[name] = x;
    }
    out[organ] = m;
  }
  return out;
}

/** The record in a parsed line of metrics.jsonl, or why it is not one. */
function epochRecordOf(v: unknown): EpochRecord | string {
  if (!isObject(v)) return 'not a JSON object';
  const { epoch, trainLoss, patches, seconds, meanDice, best } = v;
  if (!isCount(epoch)) return '"epoch" is not a count';
  if (!isFiniteNumber(trainLoss) || !isCount(patches) || !isFiniteNumber(seconds)) {
    return '"trainLoss", "patches" and "seconds" must be numbers';
  }
  const validation = validationOf(v.validation);
  if (validation === undefined) return '"validation" must be null or {organ: {metric: number or null}}';
  if (!isNumberOrNull(meanDice)) return '"meanDice" must be a number or null';
  if (typeof best !== 'boolean') return '"best" must be true or false';
  const wait = v.dataWaitSeconds;
  if (wait !== undefined && !isFiniteNumber(wait)) return '"dataWaitSeconds" must be a number';
  return {
    epoch,
    trainLoss,
    patches,
    seconds,
    ...(wait === undefined ? {} : { dataWaitSeconds: wait }),
    validation,
    meanDice,
    best,
  };
}

function gitDescribe(): string {
  try {
    const args = ['describe', '--always', '--dirty'];
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** This process's run.json: the code version, now, and the Node version. */
export function currentRunInfo(): RunInfo {
  return { codeVersion: gitDescribe(), started: new Date().toISOString(), node: process.version };
}

/** The folder of one training run; `path` is kept as given (messages show it so). */
export class RunDir {
  constructor(readonly path: string) {}

  get configPath(): string {
    return join(this.path, RUN_FILES.config);
  }
  get infoPath(): string {
    return join(this.path, RUN_FILES.info);
  }
  get splitPath(): string {
    return join(this.path, RUN_FILES.split);
  }
  get metricsPath(): string {
    return join(this.path, RUN_FILES.metrics);
  }
  /** The best model: what RUN_DIR/best names (inference/model.ts). */
  get bestPath(): string {
    return join(this.path, RUN_FILES.best);
  }
  /** The model to resume from. */
  get lastPath(): string {
    return join(this.path, RUN_FILES.last);
  }

  /** Whether a run was started here: its configuration and split are written. */
  isRun(): boolean {
    return existsSync(this.configPath) && existsSync(this.splitPath);
  }
  hasConfig(): boolean {
    return existsSync(this.configPath);
  }
  hasBest(): boolean {
    return existsSync(this.bestPath);
  }
  hasLast(): boolean {
    return existsSync(this.lastPath);
  }

  /** Creates the folder (and its parents) if missing. */
  create(): void {
    mkdirSync(this.path, { recursive: true });
  }

  /** Removes the run's own files (config, run.json, split, metrics, checkpoints): a fresh start in place. */
  clear(): void {
    for (const name of Object.values(RUN_FILES)) rmSync(join(this.path, name), { force: true });
  }

  /** Removes what a writer that died mid-write left (util/fs.ts); only while holding the run's lock. */
  removeStaleTemporaries(): string[] {
    return removeStaleWrites(this.path);
  }

  /** When the run last changed: metrics.jsonl's time, or config.json's before the first epoch. */
  modified(): Date {
    return statSync(existsSync(this.metricsPath) ? this.metricsPath : this.configPath).mtime;
  }

  writeConfig(cfg: TrainConfig): void {
    this.writeJson(this.configPath, cfg);
  }

  /** The run's configuration, validated; throws 'not-found' when there is none. */
  readConfig(): TrainConfig {
    if (!this.hasConfig()) {
      throw new ComboSegError(`${this.path}: not a run directory (no ${RUN_FILES.config})`, {
        code: 'not-found',
        path: this.configPath,
      });
    }
    return parseConfig(this.readJson(this.configPath), this.configPath);
  }

  writeInfo(info: RunInfo = currentRunInfo()): void {
    this.writeJson(this.infoPath, info);
  }

  readInfo(): RunInfo {
    const v = this.readJson(this.infoPath);
    const { codeVersion, started, node, precision } = isObject(v) ? v : {};
    if (typeof codeVersion !== 'string' || typeof started !== 'string' || typeof node !== 'string') {
      throw this.badFile(this.infoPath, 'expected {"codeVersion", "started", "node"} as strings');
    }
    if (precision === undefined) return { codeVersion, started, node };
    if (precision !== 'fp32' && precision !== 'bf16') {
      throw this.badFile(this.infoPath, `"precision" must be "fp32" or "bf16", got ${JSON.stringify(precision)}`);
    }
    return { codeVersion, started, node, precision };
  }

  writeSplit(split: RunSplit): void {
    this.writeJson(this.splitPath, { train: split.train, validation: split.validation, test: split.test });
  }

  readSplit(): RunSplit {
    const v = this.readJson(this.splitPath);
    const ids = (k: string): string[] | null => {
      const list = isObject(v) ? v[k] : null;
      return Array.isArray(list) && list.every((x) => typeof x === 'string') ? list : null;
    };
    const train = ids('train'),
      validation = ids('validation'),
      test = ids('test');
    if (!train || !validation || !test) {
      throw this.badFile(this.splitPath, 'expected {"train", "validation", "test"} as lists of case ids');
    }
    return { train, validation, test };
  }

  /**
   * The epoch records (none before the first epoch). Every line is parsed first, then checked, so a line
   * that is not JSON is named (`metrics.jsonl:LINE: not a JSON record`) before one of the wrong shape.
   */
  readEpochRecords(): EpochRecord[] {
    const path = this.metricsPath;
    if (!existsSync(path)) return [];
    const values = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line, i): unknown => {
        try {
          return JSON.parse(line);
        } catch (e) {
          throw new ComboSegError(`${path}:${i + 1}: not a JSON record`, { code: 'bad-file', path, cause: e });
        }
      });
    return values.map((v, i) => {
      const r = epochRecordOf(v);
      if (typeof r === 'string') {
        throw new ComboSegError(`${path}:${i + 1}: not an epoch record: ${r}`, { code: 'bad-file', path });
      }
      return r;
    });
  }

  /** Rewrites metrics.jsonl with these records, one per line. */
  writeEpochRecords(records: readonly EpochRecord[]): void {
    writeFileAtomic(this.metricsPath, Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  }

  /** The metadata stored in last.safetensors beside the model: where training stands, and the configuration. */
  lastMetadata(state: TrainingState, cfg: TrainConfig): Record<string, JsonValue> {
    const best = state.best ? { dice: state.best.dice, epoch: state.best.epoch } : null;
    const training = { epoch: state.epoch, index: state.index, optimizerSteps: state.optimizerSteps, best };
    return { training, config: toJson(cfg) };
  }

  /** The training state in last.safetensors' metadata (as loaded), checked: throws 'bad-file' naming the file. */
  readTrainingState(metadata: Record<string, JsonValue>): TrainingState {
    const t = metadata.training;
    const fail = (why: string) =>
      this.badFile(this.lastPath, `its training state ${why}; the run cannot resume from it`);
    if (!isObject(t)) throw fail('is missing (no "training" metadata)');
    const count = (k: 'epoch' | 'index' | 'optimizerSteps'): number => {
      const v = t[k];
      if (!isCount(v)) throw fail(`has ${k} ${shown(v)}, not a count`);
      return v;
    };
    const state = { epoch: count('epoch'), index: count('index'), optimizerSteps: count('optimizerSteps') };
    const best = t.best;
    if (best === null) return { ...state, best: null };
    if (!isObject(best) || !isFiniteNumber(best.dice) || !isCount(best.epoch)) {
      throw fail(`has best ${shown(best)}, not null or {"dice": number, "epoch": count}`);
    }
    return { ...state, best: { dice: best.dice, epoch: best.epoch } };
  }

  private writeJson(path: string, value: object): void {
    writeFileAtomic(path, Buffer.from(JSON.stringify(value, null, 2)));
  }

  private readJson(path: string): unknown {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ComboSegError(`${path}: cannot read (${code ?? (e as Error).message})`, {
        code: code === 'ENOENT' ? 'not-found' : 'bad-file',
        path,
        cause: e,
      });
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw this.badFile(path, `not JSON (${(e as Error).message})`, e);
    }
  }

  private badFile(path: string, why: string, cause?: unknown): ComboSegError {
    return new ComboSegError(`${path}: ${why}`, { code: 'bad-file', path, cause });
  }
}

/** A metadata value for messages: its JSON, or 'missing' where there is none. */
function shown(v: JsonValue | undefined): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

/** A run's epoch records (metrics.jsonl); none before the first epoch. */
export function readEpochRecords(runDir: string): EpochRecord[] {
  return new RunDir(runDir).readEpochRecords();
}

/** Loads a run's configuration (for --resume). */
export function readRunConfig(runDir: string): TrainConfig {
  return new RunDir(runDir).readConfig();
}

/**
 * A model file from what a user names: a .safetensors file, RUN_DIR/best or RUN_DIR/last,
 * or a run folder (its best).
 */
export function resolveModelPath(p: string): string {
  const run = new RunDir(p);
  if (!(existsSync(p) && statSync(p).isFile()) && !existsSync(`${p}.safetensors`) && run.hasBest()) return run.bestPath;
  return modelFile(p);
}
