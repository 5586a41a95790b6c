// `comboseg experiment`: a grid of networks × losses (× loss options, e.g. β) ×
// seeds on one data set. Each cell is a training run of the same configuration
// (same split, same budget) evaluated on the test cases. Cells run one after
// another and the grid is resumable.
//
// Cells are keyed by what they run: a cell's id is its name (network__loss__seedN)
// and a short hash of its resolved training configuration (`resolvedConfig`), and its
// folder is OUT/cells/ID. A rerun reuses a finished cell of the same configuration,
// resumes an unfinished one from its last checkpoint, and trains a cell whose
// configuration changed anew, in a new folder (the old one is left in place). Every
// cell's configuration and the data are checked before the first cell starts.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { PrecisionSchema } from '../engine/precision.js';
import { isIdentity } from '../data/augment.js';
import { writeFileAtomic } from '../util/fs.js';
import { FolderLock } from '../util/lock.js';
import { checkFlags, configProblems } from '../util/options.js';
import type { TrainEvents } from '../training/trainer.js';
import { trainOnRanks } from '../training/launch.js';
import { RunDir, type EpochRecord } from '../training/run-dir.js';
import { parseConfig, TrainConfigSchema, type TrainConfig } from '../training/config.js';
import { NETWORKS } from '../networks/registry.js';
import { RUN_SET_OPTIONS } from '../networks/options.js';
import { LOSSES } from '../losses/registry.js';
import { loadModel } from '../inference/model.js';
import { predictVolume } from '../inference/predict.js';
import { imageExtension } from '../data/io.js';
import { checkNifti } from '../data/nifti-header.js';
import {
  caseImageFiles,
  openDataset,
  loadCase,
  split as splitCases,
  kFold,
  type Dataset,
  type DatasetCase,
  type DataSpec,
} from '../data/datasets.js';
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
  /** `NAME__HASH`: the cell's folder under OUT/cells. */
  id: string;
  /** network__loss__seedN, from the labels: what the log and the history of a cell go by. */
  name: string;
  /** First 8 hex digits of the sha256 of the cell's resolved training configuration (`resolvedConfig`). */
  configHash: string;
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

/**
 * An experiment's (or a search's) configuration with `base.precision` set by a `--precision` flag, so
 * that every run computes in it; as given without the flag. A bad value is an error naming the flag.
 */
export function withBasePrecision<T extends { base: Record<string, unknown> }>(cfg: T, flag: string | undefined): T {
  const schema = z.object({ precision: PrecisionSchema.optional() });
  const { precision } = checkFlags(schema, { precision: flag }, { precision: '--precision' });
  return precision === undefined ? cfg : { ...cfg, base: { ...cfg.base, precision } };
}

/**
 * An experiment's (or a search's) configuration whose every run trains in `--nproc` data-parallel
 * processes on this host (`base.distributed.nproc`); as given without the flag. Where runs train is
 * not what they compute: the cells' hashes, and so their folders, stay the same.
 */
export function withBaseProcesses<T extends { base: Record<string, unknown> }>(cfg: T, flag: number | undefined): T {
  const schema = z.object({ nproc: z.number().int().min(1).optional() });
  const { nproc } = checkFlags(schema, { nproc: flag }, { nproc: '--nproc' });
  if (nproc === undefined) return cfg;
  const distributed = { ...((cfg.base.distributed ?? {}) as Record<string, unknown>), nproc };
  return { ...cfg, base: { ...cfg.base, distributed } };
}

// ---------------------------------------------------------------------------------------------
// Configuration keys: what a run means, canonically, and its hash.

/** A JSON value with object keys sorted at every level and undefined fields dropped: one text per meaning. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return Object.fromEntries(keys.map((k) => [k, canonical(o[k])]));
  }
  return v;
}

const NETWORK_SCHEMAS = new Map<string, z.ZodTypeAny>(Object.entries(NETWORKS).map(([k, e]) => [k, e.schema]));
const LOSS_SCHEMAS = new Map<string, z.ZodTypeAny>(Object.entries(LOSSES).map(([k, e]) => [k, e.schema]));

/** An option set with its schema's defaults filled, `drop` left out (as given where it does not parse). */
function withDefaults(schema: z.ZodTypeAny | undefined, options: Record<string, unknown>, drop: readonly string[]) {
  const r = schema?.safeParse(options);
  if (!r?.success || r.data === null || typeof r.data !== 'object') return options;
  return Object.fromEntries(Object.entries(r.data as Record<string, unknown>).filter(([k]) => !drop.includes(k)));
}

/**
 * What a parsed training configuration runs, as a canonical JSON value: every default filled
 * (parseConfig's, and the network's and loss's own option defaults), `out` left out (where a run
 * lives is not what it runs), and so is the fold index (a cell or a tuning point runs every fold).
 * `precision` is there only when set to other than its default 'auto': configurations from before
 * the setting existed keep their hash, so existing cells and tuning points keep their folders. Of
 * `distributed`, only syncBatchNorm (when set) counts: the placement of processes does not, nor does
 * `pipeline` (how patches are made ahead, not which), `cache` (where preprocessed cases are kept) or
 * `data.imageUnits` (how images are shown).
 */
export function resolvedConfig(tc: TrainConfig): Record<string, unknown> {
  const { out: _out, folds, network, loss, precision, distributed, pipeline: _pipeline, cache: _cache, ...rest } = tc;
  const { augmentation, lrSchedule, data, cropToBody, ...core } = rest;
  const { imageUnits: _units, ...dataCore } = data; // how images are shown, not what is trained
  return canonical({
    ...core,
    data: dataCore,
    // Settings added later count only when they change what is trained: older cells keep their hash.
    ...(isIdentity(augmentation) ? {} : { augmentation }),
    ...(lrSchedule.kind === 'constant' && lrSchedule.warmupEpochs === 0 ? {} : { lrSchedule }),
    ...(precision === 'auto' ? {} : { precision }),
    ...(cropToBody ? { cropToBody } : {}),
    // Where the processes run is not what is computed (batchSize is the global batch); synchronised batch norm is.
    ...(distributed.syncBatchNorm ? { syncBatchNorm: true } : {}),
    network: {
      name: network.name,
      options: withDefaults(NETWORK_SCHEMAS.get(network.name), network.options, RUN_SET_OPTIONS),
    },
    loss: { name: loss.name, options: withDefaults(LOSS_SCHEMAS.get(loss.name), loss.options, []) },
    folds: folds && { k: folds.k, seed: folds.seed, heldOut: folds.heldOut },
  }) as Record<string, unknown>;
}

/** The first 8 hex digits of the sha256 of a resolved configuration's JSON text. */
export function configHash(resolved: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(resolved)))
    .digest('hex')
    .slice(0, 8);
}

/** Where two resolved configurations differ, as "epochs 1 → 2, loss.options.beta 0.5 → 0.7" (the first four). */
export function configDiff(was: Record<string, unknown>, now: Record<string, unknown>): string {
  const flat = (v: unknown, at: string, into: Map<string, string>): Map<string, string> => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
      for (const [k, x] of Object.entries(v)) flat(x, at ? `${at}.${k}` : k, into);
    } else {
      into.set(at, JSON.stringify(v));
    }
    return into;
  };
  const a = flat(canonical(was), '', new Map()),
    b = flat(canonical(now), '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  const shown = keys.slice(0, 4).map((k) => `${k} ${a.get(k) ?? 'unset'} → ${b.get(k) ?? 'unset'}`);
  return shown.join(', ') + (keys.length > 4 ? `, and ${keys.length - 4} more` : '');
}

// ---------------------------------------------------------------------------------------------
// Keyed folders: PARENT/NAME__HASH, one per configuration of a named cell (or tuning point).

/** In every keyed folder: its hash and the resolved configuration it was made for. */
export const KEY_FILE = 'resolved-config.json';
const KeyFileSchema = z.object({ configHash: z.string(), config: z.record(z.unknown()) });
const HASH = /^[0-9a-f]{8}$/;

/** What a keyed folder's history was when its cell (or point) came up. */
export type FolderHistory =
  /** The folder of this configuration was there. */
  | { kind: 'same' }
  /** Nothing of this name was there: the folder is new. */
  | { kind: 'new' }
  /** A folder from before configurations were hashed (PARENT/NAME) ran this configuration: renamed. */
  | { kind: 'adopted'; from: string }
  /** Folders of this name under other configurations are there (left in place); the newest one's. */
  | { kind: 'changed'; was: string; diff: string; folder: string; others: number };

function readKeyFile(folder: string): { configHash: string; config: Record<string, unknown> } | null {
  try {
    const r = KeyFileSchema.safeParse(JSON.parse(readFileSync(join(folder, KEY_FILE), 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The resolved configuration of the run at `runDir` (a folder from before hashes), or null when unreadable. */
function legacyConfig(runDir: string): Record<string, unknown> | null {
  try {
    return resolvedConfig(new RunDir(runDir).readConfig());
  } catch {
    return null;
  }
}

/** Folders of `name` other than `id` (NAME or NAME__HASH), newest first. */
function otherFolders(parent: string, name: string, id: string): string[] {
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .filter((f) => f !== id && (f === name || (f.startsWith(`${name}__`) && HASH.test(f.slice(name.length + 2)))))
    .map((f) => ({ f, t: statSync(join(parent, f)).mtimeMs }))
    .sort((x, y) => y.t - x.t)
    .map((x) => x.f);
}

/**
 * Makes PARENT/NAME__HASH ready for a configuration and says what was there. A folder from before
 * configurations were hashed (PARENT/NAME) whose run (`legacyRun` inside it) ran the same
 * configuration is renamed into place; any other folder of the name is left as it is.
 */
export function keyedFolder(o: {
  parent: string;
  name: string;
  hash: string;
  config: Record<string, unknown>;
  legacyRun: string;
}): FolderHistory {
  const id = `${o.name}__${o.hash}`;
  const dir = join(o.parent, id);
  if (existsSync(dir)) return { kind: 'same' };
  const others = otherFolders(o.parent, o.name, id);
  const legacy = join(o.parent, o.name);
  const legacyCfg = others.includes(o.name) ? legacyConfig(join(legacy, o.legacyRun)) : null;
  const adopt = legacyCfg !== null && configHash(legacyCfg) === o.hash;
  if (adopt) renameSync(legacy, dir);
  else mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, KEY_FILE), Buffer.from(JSON.stringify({ configHash: o.hash, config: o.config }, null, 2)));
  if (adopt) return { kind: 'adopted', from: legacy };
  if (!others.length) return { kind: 'new' };
  const newest = join(o.parent, others[0]);
  const key = readKeyFile(newest);
  const was = key?.config ?? (others[0] === o.name ? legacyCfg : null);
  return {
    kind: 'changed',
    was: key?.configHash ?? (was ? configHash(was) : 'unknown'),
    diff: was ? configDiff(was, o.config) : '',
    folder: newest,
    others: others.length,
  };
}

/** The log's account of a keyed folder's history; `unfinished` says how an unfinished one goes on. */
export function historyText(
  h: FolderHistory,
  hash: string,
  o: { finished: boolean; unfinished: string; root: string },
): string {
  const goOn = o.finished ? `reusing finished result (config ${hash})` : `${o.unfinished} (config ${hash})`;
  switch (h.kind) {
    case 'same':
      return goOn;
    case 'new':
      return `training (config ${hash})`;
    case 'adopted':
      return `${goOn}; ${relative(o.root, h.from)} predates configuration hashes and ran this configuration: renamed`;
    case 'changed': {
      const more = h.others > 1 ? ` (and ${h.others - 1} older)` : '';
      return (
        `configuration changed (was ${h.was}, now ${hash}${h.diff && `: ${h.diff}`}): training anew; ` +
        `${relative(o.root, h.folder)}${more} left in place`
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks before anything runs: the data set, the split or folds, and the files of every case.

/** What is wrong with an image file, found without reading its voxels (existence, size, header), or null. */
async function imageFileProblem(path: string): Promise<string | null> {
  if (!existsSync(path)) return 'no such file';
  const st = statSync(path);
  if (!st.isFile()) return 'not a file';
  if (st.size === 0) return 'empty file';
  const ext = imageExtension(path);
  if (!ext) return 'not an image type comboseg reads';
  if (ext === '.nii' || ext === '.nii.gz' || ext === '.hdr') return checkNifti(path);
  if (ext === '.img') {
    const hdr = path.replace(/\.img$/, '.hdr');
    return existsSync(hdr) ? checkNifti(hdr) : 'an .img file needs its .hdr beside it';
  }
  let head: string;
  try {
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    closeSync(fd);
    head = buf.subarray(0, n).toString('latin1');
  } catch (e) {
    return `cannot be read (${(e as Error).message})`;
  }
  if ((ext === '.nrrd' || ext === '.nhdr') && !head.startsWith('NRRD000')) return 'no NRRD magic ("NRRD000x")';
  if ((ext === '.mha' || ext === '.mhd') && !/^(ObjectType|NDims|Comment|TransformType)\s*=/m.test(head)) {
    return 'no MetaImage header ("ObjectType = Image" / "NDims = 3")';
  }
  return null;
}

/** Opens a data set and checks the files of its training cases (the ones a run reads; every channel's file). */
async function openAndCheck(spec: DataSpec, problems: string[]): Promise<Dataset | null> {
  let ds: Dataset;
  try {
    ds = openDataset(spec);
  } catch (e) {
    if (!(e instanceof ComboSegError)) throw e;
    problems.push(`data: ${e.message}`);
    return null;
  }
  const bad: string[] = [];
  for (const c of ds.training) {
    const files = [...caseImageFiles(c).map((f) => ['image', f] as const), ['label', c.label] as const];
    for (const [what, file] of files) {
      const why = file === undefined ? null : await imageFileProblem(file);
      if (why !== null) bad.push(`data: case '${c.id}' ${what} ${file ?? ''}: ${why}`);
    }
  }
  problems.push(...bad.slice(0, 10), ...(bad.length > 10 ? [`data: ... and ${bad.length - 10} more bad file(s)`] : []));
  return ds;
}

/** What is wrong with a run's split of the data set (as the trainer splits it), or null. */
function splitProblem(c: TrainConfig, ds: Dataset, needTest: boolean): string | null {
  let train: DatasetCase[], test: DatasetCase[];
  try {
    if (c.folds) {
      const f = kFold(ds.training, c.folds.k, c.folds.fold, c.folds.seed);
      const rest =
        c.folds.heldOut === 'validation'
          ? { train: f.train }
          : splitCases(f.train, { validation: c.split.validation, test: 0, seed: c.split.seed });
      train = rest.train;
      test = c.folds.heldOut === 'validation' ? ds.test : [...f.validation, ...ds.test];
    } else {
      const s = splitCases(ds.training, { validation: c.split.validation, test: c.split.test, seed: c.split.seed });
      train = s.train;
      test = [...s.test, ...ds.test];
    }
  } catch (e) {
    if (e instanceof ComboSegError) return e.message;
    throw e;
  }
  if (!train.length) return `no training case is left of the ${ds.training.length} case(s)`;
  if (needTest && !test.some((t) => t.label !== undefined)) {
    return (
      `no labelled test case to score on (${ds.training.length} case(s), split.test ${c.split.test}); ` +
      'set base.split.test (e.g. 0.2) or "folds" in the experiment configuration'
    );
  }
  return null;
}

/**
 * The problems of the data that runs read: the data set opens, the files of its cases are there
 * and have a readable header, and each run's split (or fold) leaves training cases and, when
 * `needTest`, a labelled test case. Each data set and split is checked once.
 */
export async function dataProblems(
  runs: { where: string; config: TrainConfig }[],
  needTest: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const opened = new Map<string, Dataset | null>();
  const seen = new Set<string>();
  const splits = new Map<string, string[]>(); // problem → where
  for (const run of runs) {
    const dataKey = JSON.stringify(canonical(run.config.data));
    if (!opened.has(dataKey)) opened.set(dataKey, await openAndCheck(run.config.data, problems));
    const ds = opened.get(dataKey);
    const splitKey = JSON.stringify(canonical([run.config.data, run.config.split, run.config.folds]));
    if (!ds || seen.has(splitKey)) continue;
    seen.add(splitKey);
    const why = splitProblem(run.config, ds, needTest);
    if (why !== null) splits.set(why, [...(splits.get(why) ?? []), run.where]);
  }
  // The same problem in every fold (k too large) is said once.
  for (const [why, where] of splits) {
    problems.push(`${where.length > 2 ? `${where[0]} and ${where.length - 1} more` : where.join(', ')}: ${why}`);
  }
  return problems;
}

/** Per-item problem lines; a line every item has (of more than one) is said once, for `every`. */
export function groupProblems(perItem: [string, string[]][], total: number, every: string): string[] {
  const count = new Map<string, number>();
  for (const [, lines] of perItem) for (const l of new Set(lines)) count.set(l, (count.get(l) ?? 0) + 1);
  const common = total > 1 ? [...count].filter(([, n]) => n === total).map(([l]) => l) : [];
  return [
    ...common.map((l) => `${every}: ${l}`),
    ...perItem.flatMap(([where, lines]) => lines.filter((l) => !common.includes(l)).map((l) => `${where}: ${l}`)),
  ];
}

/** The one error of the checks before a grid or search starts. */
export function preflightError(source: string, problems: string[]): ComboSegError {
  return new ComboSegError(
    `${source}: ${problems.length} problem(s) found before anything ran; nothing was trained:\n` +
      problems.map((p) => `  ${p}`).join('\n'),
    { code: 'invalid-config', path: source },
  );
}

/** A training configuration's problems, one line each ("loss.name: must be one of ... Did you mean 'dice'?"). */
export function parseProblems(value: unknown, source: string): { config: TrainConfig } | { problems: string[] } {
  try {
    return { config: parseConfig(value, source) };
  } catch (e) {
    if (!(e instanceof ComboSegError)) throw e;
    return { problems: configProblems(TrainConfigSchema, value).map((l) => l.trim()) };
  }
}

// ---------------------------------------------------------------------------------------------
// The grid.

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

type NamedCell = Omit<CellSpec, 'id' | 'configHash'>;

/** The grid's cells by name, in run order. */
function namedCells(cfg: ExperimentConfig): NamedCell[] {
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
  const out: NamedCell[] = [];
  for (const n of cfg.networks)
    for (const l of losses)
      for (const seed of cfg.seeds) {
        const network = { name: n.name, options: n.options, label: n.label ?? n.name };
        out.push({ name: slug(`${network.label}__${l.label}__seed${seed}`), network, loss: l, seed });
      }
  return out;
}

/** The training configuration (unparsed) a cell runs: the whole cell, or fold `fold.fold` of k. */
function cellTrainValue(
  cfg: ExperimentConfig,
  cell: NamedCell,
  fold: { k: number; fold: number } | undefined,
  out: string,
): Record<string, unknown> {
  const base = cfg.base as { split?: { validation?: number; seed?: number } };
  return {
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
    out,
  };
}

/** A cell ready to run: its spec, its resolved configuration, and its runs (one per fold, or one). */
interface PlannedCell {
  spec: CellSpec;
  config: Record<string, unknown>;
  runs: { where: string; config: TrainConfig }[];
}

/** A cell's runs (one per fold, or the one split), parsed; or the problems of its configuration. */
function cellRuns(
  cfg: ExperimentConfig,
  cell: NamedCell,
  where: string,
): { runs: PlannedCell['runs'] } | { problems: string[] } {
  const k = cfg.folds;
  const runs: PlannedCell['runs'] = [];
  for (const fold of k === undefined ? [undefined] : Array.from({ length: k }, (_, f) => ({ k, fold: f }))) {
    const r = parseProblems(cellTrainValue(cfg, cell, fold, 'cell'), where);
    if ('problems' in r) return r;
    runs.push({ where: fold ? `fold ${fold.fold + 1}/${fold.k}` : 'split', config: r.config });
  }
  return { runs };
}

/** Every cell with its configuration parsed; the problems of those that do not parse, naming them. */
function planCells(cfg: ExperimentConfig): { planned: PlannedCell[]; problems: string[] } {
  const named = namedCells(cfg);
  const problems: string[] = [];
  const perCell: [string, string[]][] = [];
  const planned: PlannedCell[] = [];
  const first = new Map<string, number>();
  for (const [i, cell] of named.entries()) {
    const where = `cell ${i + 1}/${named.length} ${cell.name}`;
    const twin = first.get(cell.name);
    if (twin !== undefined)
      problems.push(`${where}: same name as cell ${twin + 1}; give the entries distinct "label"s`);
    else first.set(cell.name, i);
    const r = cellRuns(cfg, cell, where);
    if ('problems' in r) {
      perCell.push([where, r.problems]);
      continue;
    }
    const config = resolvedConfig(r.runs[0].config);
    const hash = configHash(config);
    planned.push({ spec: { ...cell, id: `${cell.name}__${hash}`, configHash: hash }, config, runs: r.runs });
  }
  problems.push(...groupProblems(perCell, named.length, 'every cell'));
  return { planned, problems };
}

/**
 * The runs whose data and split are checked: every parsed cell's; when no cell parses, those of the base
 * with a stand-in network and loss (the data and the split do not depend on them), so that the data's
 * problems are reported with the cells'.
 */
function runsToCheck(cfg: ExperimentConfig, planned: PlannedCell[]): PlannedCell['runs'] {
  if (planned.length) return planned.flatMap((p) => p.runs);
  const standIn: NamedCell = {
    name: 'base',
    network: { name: 'proposed', options: {}, label: 'proposed' },
    loss: { name: 'dice', options: {}, label: 'dice' },
    seed: 0,
  };
  const r = cellRuns(cfg, standIn, 'base');
  return 'runs' in r ? r.runs : [];
}

/** The cells of a grid in run order, each with its configuration hash; throws naming every cell that fails to parse. */
export function cells(cfg: ExperimentConfig, source = 'experiment config'): CellSpec[] {
  const { planned, problems } = planCells(cfg);
  if (problems.length) throw preflightError(source, problems);
  return planned.map((p) => p.spec);
}

/**
 * Checks a whole grid before anything runs: every cell's training configuration parses (network
 * and loss names and options), the data set opens, the files of its cases are there with a
 * readable header, and the split (or each fold) leaves a test case. One ComboSegError
 * ('invalid-config') lists every problem, naming the cell.
 */
export async function validateExperiment(cfg: ExperimentConfig, source = 'experiment config'): Promise<PlannedCell[]> {
  const { planned, problems } = planCells(cfg);
  problems.push(...(await dataProblems(runsToCheck(cfg, planned), true)));
  if (problems.length) throw preflightError(source, problems);
  return planned;
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
  /**
   * One line per decision, for people: "cell 2/6 NAME: reusing finished result (config a1b2c3d4)",
   * "...: configuration changed (was 1f2e3d4c, now a1b2c3d4: epochs 1 → 2): training anew; ...".
   */
  log?: (line: string) => void;
  train?: TrainEvents;
}

/**
 * Runs (or resumes) the grid; returns every cell's result, also written to OUT/results.json.
 * Nothing runs (and no folder is made) unless every cell and the data pass `validateExperiment`.
 */
export async function runExperiment(
  config: unknown,
  events: ExperimentEvents = {},
  source = 'experiment config',
  /** Start no new training after this many hours (the grid stops, resumable: a part of a long grid). */
  o: { maxHours?: number } = {},
): Promise<CellResult[]> {
  const cfg = parseExperiment(config, source);
  const planned = await validateExperiment(cfg, source);
  const out = resolve(cfg.out);
  mkdirSync(join(out, 'cells'), { recursive: true });
  // One experiment writer per folder (each cell's training run also locks its own run directory).
  const lock = FolderLock.acquire(out, 'experiment', (m) => events.log?.(m));
  try {
    writeFileAtomic(join(out, 'experiment.json'), Buffer.from(JSON.stringify(cfg, null, 2)));
    const results: CellResult[] = [];
    const deadline = o.maxHours === undefined ? Infinity : performance.now() + o.maxHours * 3.6e6;
    try {
      for (const [i, p] of planned.entries()) {
        results.push(await runCell(cfg, out, p, [i, planned.length], events, deadline));
      }
    } catch (e) {
      // A grid stopped in time (--max-hours, a signal) still reports what it finished, marked partial.
      if (!(e instanceof ComboSegError && e.code === 'interrupted') || results.length === 0) throw e;
      const partial = { cells: results.length, of: planned.length };
      writeResults(out, cfg, results, partial);
      throw new GridStopped(e, results, partial);
    }
    writeResults(out, cfg, results);
    return results;
  } finally {
    lock.release();
  }
}

/** How much of a grid a partial result covers: its first `cells` cells of `of`. */
export interface PartialGrid {
  cells: number;
  of: number;
}

/** A grid that stopped in time (resumable), with the cells it finished before: their results are written. */
export class GridStopped extends ComboSegError {
  override name = 'GridStopped';
  constructor(
    stop: ComboSegError,
    readonly finished: CellResult[],
    readonly partial: PartialGrid,
  ) {
    super(`${stop.message} (results.json and the report cover the ${partial.cells} of ${partial.of} cells finished)`, {
      code: 'interrupted',
      path: stop.path,
      cause: stop,
    });
  }
}

/** OUT/results.json (`partial` when the grid is not finished) and OUT/results.csv. */
function writeResults(out: string, cfg: ExperimentConfig, cells: CellResult[], partial?: PartialGrid): void {
  const json = JSON.stringify({ experiment: cfg, ...(partial ? { partial } : {}), cells }, null, 2);
  writeFileAtomic(join(out, 'results.json'), Buffer.from(json));
  writeFileAtomic(join(out, 'results.csv'), Buffer.from(resultsCsv(cells)));
}

/** How an unfinished cell goes on, for the log. */
function unfinishedText(cfg: ExperimentConfig, dir: string): string {
  if (cfg.folds === undefined) {
    return new RunDir(join(dir, 'run')).hasLast()
      ? 'resuming from its last checkpoint'
      : 'unfinished, no checkpoint yet: training from the start';
  }
  const k = cfg.folds;
  const done = Array.from({ length: k }, (_, f) => f).filter((f) => existsSync(join(dir, `fold${f}`, 'result.json')));
  return `resuming: ${done.length} of ${k} folds finished`;
}

/** One cell: reused when finished under its configuration, else trained (or resumed) and scored. */
async function runCell(
  cfg: ExperimentConfig,
  out: string,
  p: PlannedCell,
  [index, total]: [number, number],
  events: ExperimentEvents,
  deadline = Infinity,
): Promise<CellResult> {
  const cell = p.spec;
  const say = (what: string, fold?: number) =>
    events.log?.(
      `cell ${index + 1}/${total} ${cell.name}${fold === undefined ? '' : ` fold ${fold + 1}/${cfg.folds}`}: ${what}`,
    );
  const onCell = (s: 'skipped' | 'started' | 'resumed' | 'done', fold?: number) =>
    events.onCell?.(cell, index, total, s, fold);
  const cellsDir = join(out, 'cells');
  const history = keyedFolder({
    parent: cellsDir,
    name: cell.name,
    hash: cell.configHash,
    config: p.config,
    legacyRun: cfg.folds === undefined ? 'run' : join('fold0', 'run'),
  });
  const dir = join(cellsDir, cell.id);
  const resultPath = join(dir, 'result.json');
  const finished = existsSync(resultPath);
  say(historyText(history, cell.configHash, { finished, unfinished: unfinishedText(cfg, dir), root: out }));
  if (finished) {
    onCell('skipped');
    const stored = readFileSync(resultPath, 'utf8');
    const result: CellResult = { ...(JSON.parse(stored) as CellResult), ...cell };
    // A result from before configuration hashes (an adopted folder's) gets its id and hash written in.
    const text = JSON.stringify(result, null, 2);
    if (text !== stored) writeFileAtomic(resultPath, Buffer.from(text));
    return result;
  }
  // Past the time given: stop before training more (what is finished stays; run again to go on).
  const inTime = (): void => {
    if (performance.now() < deadline) return;
    throw new ComboSegError(`time limit reached before cell ${index + 1}/${total}; run the experiment again to go on`, {
      code: 'interrupted',
    });
  };
  let result: CellResult;
  if (cfg.folds === undefined) {
    inTime();
    result = { ...cell, ...(await runFold(cfg, p, dir, undefined, events.train, (s) => onCell(s))) };
  } else {
    const folds: FoldResult[] = [];
    for (let f = 0; f < cfg.folds; f++) {
      const foldDir = join(dir, `fold${f}`);
      const foldPath = join(foldDir, 'result.json');
      if (existsSync(foldPath)) {
        if (history.kind !== 'new') say('reusing finished fold', f);
        folds.push(JSON.parse(readFileSync(foldPath, 'utf8')) as FoldResult);
        continue;
      }
      inTime();
      const r: FoldResult = {
        fold: f,
        ...(await runFold(cfg, p, foldDir, { k: cfg.folds, fold: f }, events.train, (s) => {
          say(s === 'resumed' ? 'resuming from its last checkpoint' : 'training', f);
          onCell(s, f);
        })),
      };
      writeFileAtomic(foldPath, Buffer.from(JSON.stringify(r, null, 2)));
      folds.push(r);
    }
    result = { ...cell, ...poolFolds(folds), folds };
  }
  writeFileAtomic(resultPath, Buffer.from(JSON.stringify(result, null, 2)));
  onCell('done');
  return result;
}

/**
 * Trains one run of a cell (one fold under cross-validation) in DIR/run, resuming it if
 * interrupted, and scores its test cases.
 */
async function runFold(
  cfg: ExperimentConfig,
  p: PlannedCell,
  dir: string,
  fold: { k: number; fold: number } | undefined,
  trainEvents: TrainEvents | undefined,
  onState: (s: 'started' | 'resumed') => void,
): Promise<Omit<FoldResult, 'fold'>> {
  const runDir = join(dir, 'run');
  const cell = p.spec;
  const trainConfig = parseConfig(
    cellTrainValue(cfg, cell, fold, runDir),
    `cell ${cell.id}${fold ? ` fold ${fold.fold}` : ''}`,
  );
  // The configuration run is the one hashed: the same value, only `out` and the fold differ.
  if (configHash(resolvedConfig(trainConfig)) !== cell.configHash) {
    throw new Error(`cell ${cell.id}: the configuration run does not hash to the cell's own`);
  }
  const resume = new RunDir(runDir).hasLast();
  if (!resume) rmSync(runDir, { recursive: true, force: true });
  onState(resume ? 'resumed' : 'started');
  const run = await trainOnRanks(trainConfig, { resume, events: trainEvents });
  if (run.stopped) throw stoppedTraining(`cell ${cell.id}`, runDir);
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
    'config',
    'organ',
    ...METRIC_NAMES.flatMap((m) => [`${m}_mean`, `${m}_std`, `${m}_missing`]),
  ];
  const rows = results.flatMap((c) =>
    [...Object.entries(c.summary.perOrgan), ['all organs', c.summary.overall] as const].map(([organ, st]) => [
      c.id,
      c.network.label,
      c.loss.label,
      String(c.seed),
      c.configHash,
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

/** Training that stopped on request (a signal that reached its processes): the grid stops, resumable. */
export function stoppedTraining(what: string, runDir: string): ComboSegError {
  return new ComboSegError(`${what}: training stopped before its last epoch (${runDir}); run again to resume`, {
    code: 'interrupted',
    path: runDir,
  });
}
