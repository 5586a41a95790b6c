// What the served folder holds: training runs (run directories, read through
// `RunDir`, written by `comboseg train` or an experiment's cells) and
// experiments (experiment.json, cells/*/result.json, results.json).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RunDir, RUN_FILES, type EpochRecord } from '../training/run-dir.js';
import { cells as gridCells, parseExperiment, type CellResult, type FoldResult } from '../experiments/grid.js';
import { openDataset, type DatasetCase } from '../data/datasets.js';
import { ComboSegError } from '../engine/errors.js';
import { HttpError } from './http.js';
import { relativeTo } from './paths.js';

export interface RunSummary {
  path: string;
  network: string;
  loss: string;
  epochs: number;
  epochsPlanned: number;
  bestDice: number | null;
  hasModel: boolean;
  updated: string;
}

export interface ExperimentSummary {
  path: string;
  cells: number;
  finished: number;
  hasReport: boolean;
}

const MAX_DEPTH = 7,
  MAX_DIRS = 5000;

const readJson = (path: string): unknown => {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new HttpError(500, `${path}: unreadable JSON (${(e as Error).message})`, { cause: e });
  }
};

const isExperiment = (dir: string) => existsSync(join(dir, 'experiment.json')) && existsSync(join(dir, 'cells'));

export function runSummary(root: string, dir: string, given?: EpochRecord[]): RunSummary {
  const run = new RunDir(dir);
  const records = given ?? run.readEpochRecords();
  const cfg = run.readConfig();
  const dice = records.map((r) => r.meanDice).filter((d): d is number => d !== null);
  const opts = Object.entries(cfg.loss.options)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return {
    path: relativeTo(root, dir),
    network: cfg.network.name,
    loss: opts ? `${cfg.loss.name}(${opts})` : cfg.loss.name,
    epochs: records.length,
    epochsPlanned: cfg.epochs,
    bestDice: dice.length ? Math.max(...dice) : null,
    hasModel: run.hasBest(),
    updated: run.modified().toISOString(),
  };
}

/** Every run and experiment under root (breadth-first, bounded). */
export function scan(root: string): { runs: RunSummary[]; experiments: ExperimentSummary[] } {
  const runs: RunSummary[] = [],
    experiments: ExperimentSummary[] = [];
  const queue: [string, number][] = [[root, 0]];
  let seen = 0;
  while (queue.length && seen++ < MAX_DIRS) {
    const next = queue.shift();
    if (!next) break;
    const [dir, depth] = next;
    if (new RunDir(dir).isRun()) {
      try {
        runs.push(runSummary(root, dir));
      } catch {
        /* a run being created */
      }
      continue;
    }
    if (isExperiment(dir)) {
      try {
        const e = experimentDetail(root, dir);
        experiments.push({
          path: e.path,
          cells: e.total,
          finished: e.cells.length,
          hasReport: existsSync(join(dir, 'report.html')),
        });
      } catch {
        /* malformed or being written: left out of the index, reported when opened */
      }
    }
    if (depth >= MAX_DEPTH) continue;
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries.sort()) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const p = join(dir, name);
      try {
        if (statSync(p).isDirectory()) queue.push([p, depth + 1]);
      } catch {
        /* vanished */
      }
    }
  }
  return { runs, experiments };
}

/** The run directory at `dir`, or 404 when no run was started there. */
function openRun(root: string, dir: string): RunDir {
  const run = new RunDir(dir);
  if (!run.isRun()) {
    const files = `${RUN_FILES.config} and ${RUN_FILES.split}`;
    throw new HttpError(404, `'${relativeTo(root, dir)}' is not a training run (no ${files})`);
  }
  return run;
}

export interface RunDetail extends RunSummary {
  records: EpochRecord[];
  split: { train: string[]; validation: string[]; test: string[] };
  labels: Record<string, string>;
  hasReport: boolean;
}

export function runDetail(root: string, dir: string): RunDetail {
  const run = openRun(root, dir);
  const cfg = run.readConfig();
  let labels: Record<string, string> = {};
  try {
    const ds = openDataset(cfg.data);
    labels = Object.fromEntries(ds.labels.values.map((v, k) => [String(v), ds.labels.names[k]]));
  } catch {
    /* data moved: curves still show */
  }
  const records = run.readEpochRecords();
  const split = run.readSplit();
  return { ...runSummary(root, dir, records), records, split, labels, hasReport: existsSync(join(dir, 'report.html')) };
}

/** The case `id` of a run's data set, with its image and label paths (read by the server, never sent). */
export function runCase(root: string, dir: string, id: string): DatasetCase {
  const ds = openDataset(openRun(root, dir).readConfig().data);
  const c = ds.training.find((t) => t.id === id) ?? ds.test.find((t) => t.id === id);
  if (!c) throw new ComboSegError(`case '${id}' is not in the data set of this run`, { code: 'not-found', path: id });
  return c;
}

export interface ExperimentDetail {
  path: string;
  total: number;
  /** Finished cells; each case names the run whose model never saw it. */
  cells: (Pick<CellResult, 'id' | 'network' | 'loss' | 'seed' | 'summary'> & {
    cases: (CellResult['cases'][number] & { run: string })[];
  })[];
  hasReport: boolean;
}

/** The cell ids (folder names) of an experiment's current configuration; null if it no longer parses. */
function currentCellIds(dir: string): string[] | null {
  try {
    return gridCells(parseExperiment(readJson(join(dir, 'experiment.json')))).map((c) => c.id);
  } catch {
    return null; // an older or hand-edited experiment.json: show every cell folder
  }
}

export function experimentDetail(root: string, dir: string): ExperimentDetail {
  if (!isExperiment(dir))
    throw new HttpError(404, `'${relativeTo(root, dir)}' is not an experiment (no experiment.json and cells/)`);
  // The cells of the current experiment.json: folders of earlier configurations (another config hash)
  // stay on disk but are not this experiment's results.
  const current = currentCellIds(dir);
  const cellDirs = readdirSync(join(dir, 'cells'))
    .filter((n) => statSync(join(dir, 'cells', n)).isDirectory() && (current === null || current.includes(n)))
    .sort();
  const cells: ExperimentDetail['cells'] = [];
  for (const name of cellDirs) {
    const resultPath = join(dir, 'cells', name, 'result.json');
    if (!existsSync(resultPath)) continue;
    const r = readJson(resultPath) as CellResult;
    const runOf = (caseId: string) => {
      const fold = r.folds?.find((f: FoldResult) => f.cases.some((c) => c.id === caseId));
      return relativeTo(root, join(dir, 'cells', name, ...(fold ? [`fold${fold.fold}`] : []), 'run'));
    };
    cells.push({
      id: r.id,
      network: r.network,
      loss: r.loss,
      seed: r.seed,
      summary: r.summary,
      cases: r.cases.map((c) => ({ ...c, run: runOf(c.id) })),
    });
  }
  const total = current?.length ?? cellDirs.length;
  return { path: relativeTo(root, dir), total, cells, hasReport: existsSync(join(dir, 'report.html')) };
}
