// `comboseg tune`: choosing the loss's α and β as the paper did — a grid
// evaluated by k-fold cross-validation — and, beyond the paper (its stated
// future work), Bayesian optimisation of the same objective, reported side by
// side with the number of training runs each needed. The objective of a point is
// the mean over folds of the best validation Dice of a training run. Every run
// is kept on disk under OUT/runs/POINT__HASH, keyed by the point's resolved training
// configuration (as grid cells are), so an interrupted search resumes without repeating
// one, and a point whose configuration changed (base.epochs edited, say) is trained anew.
// Every point's configuration and the data are checked before the first run starts.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import { writeFileAtomic } from '../util/fs.js';
import type { TrainEvents } from '../training/trainer.js';
import { trainOnRanks } from '../training/launch.js';
import { RunDir } from '../training/run-dir.js';
import { parseConfig, type TrainConfig } from '../training/config.js';
import { suggest } from './bayes.js';
import {
  configHash,
  dataProblems,
  groupProblems,
  historyText,
  keyedFolder,
  parseProblems,
  preflightError,
  resolvedConfig,
  stoppedTraining,
} from './grid.js';

const range = z.tuple([z.number(), z.number()]).refine((r) => r[1] > r[0], 'range must be [low, high] with high > low');

export const TuneConfigSchema = z
  .object({
    _comment: z.string().optional(),
    /** Training configuration shared by every run (loss name included; its α/β are set per point). */
    base: z.record(z.unknown()),
    /** Loss options searched, with their ranges (for the Bayesian search; the grid gives its own values). */
    space: z.record(range).refine((s) => Object.keys(s).length > 0, 'give at least one option to search'),
    grid: z.record(z.array(z.number()).min(1)).optional(),
    folds: z.number().int().min(2).default(3),
    bayes: z
      .object({
        trials: z.number().int().min(1),
        initial: z.number().int().min(1).default(3),
        seed: z.number().int().nonnegative().default(0),
      })
      .strict()
      .optional(),
    out: z.string().min(1),
  })
  .strict();
export type TuneConfig = z.infer<typeof TuneConfigSchema>;

export interface Trial {
  method: 'grid' | 'bayes';
  options: Record<string, number>;
  score: number;
  folds: number[];
  /** The point's configuration hash: its runs are in OUT/runs/POINT__HASH. */
  configHash: string;
}

export interface TuneEvents {
  onTrial?: (t: Trial) => void;
  /** One line per point, for people: "grid point beta=0.3000: reusing saved scores (config a1b2c3d4)". */
  log?: (line: string) => void;
  train?: TrainEvents;
}

export function parseTune(value: unknown, source = 'tune config'): TuneConfig {
  const r = TuneConfigSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ComboSegError(`${source}: invalid tune configuration:\n${issues.join('\n')}`, {
      code: 'invalid-config',
      path: source,
    });
  }
  for (const k of Object.keys(r.data.grid ?? {})) {
    if (!(k in r.data.space)) {
      const why = `${source}: grid option '${k}' is not in "space"`;
      throw new ComboSegError(why, { code: 'invalid-config', path: `grid.${k}` });
    }
  }
  if (!r.data.grid && !r.data.bayes) {
    throw new ComboSegError(`${source}: give "grid", "bayes", or both`, { code: 'invalid-config', path: source });
  }
  return r.data;
}

const key = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${v.toPrecision(4)}`)
    .join('_');

function gridPoints(grid: Record<string, number[]>): Record<string, number>[] {
  return Object.entries(grid).reduce<Record<string, number>[]>(
    (acc, [k, vs]) => acc.flatMap((p) => vs.map((v) => ({ ...p, [k]: v }))),
    [{}],
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** base.loss, whose options are searched (null without a name). */
function baseLoss(cfg: TuneConfig): { name: string; options: Record<string, unknown> } | null {
  const loss = cfg.base.loss;
  if (!isRecord(loss) || typeof loss.name !== 'string') return null;
  return { name: loss.name, options: isRecord(loss.options) ? loss.options : {} };
}

/** The training configuration (unparsed) of one fold of a point. */
function pointTrainValue(
  cfg: TuneConfig,
  options: Record<string, number>,
  fold: number,
  out: string,
): Record<string, unknown> {
  const loss = baseLoss(cfg);
  return {
    ...cfg.base,
    split: undefined,
    folds: { k: cfg.folds, fold, seed: 0 },
    loss: { name: loss?.name, options: { ...(loss?.options ?? {}), ...options } },
    out,
  };
}

/** A point of the search, keyed by its resolved configuration: its runs live in OUT/runs/NAME__HASH. */
interface Point {
  name: string;
  options: Record<string, number>;
  hash: string;
  config: Record<string, unknown>;
}

function pointOf(cfg: TuneConfig, options: Record<string, number>): Point {
  const name = key(options);
  const config = resolvedConfig(parseConfig(pointTrainValue(cfg, options, 0, 'point'), `tune point ${name}`));
  return { name, options, hash: configHash(config), config };
}

/** The points checked before the search: the grid's, and the corners of the Bayesian search's box. */
function pointsToCheck(cfg: TuneConfig): [string, Record<string, number>][] {
  const names = Object.keys(cfg.space);
  const corner = (end: 0 | 1) => Object.fromEntries(names.map((n) => [n, cfg.space[n][end]]));
  const points: [string, Record<string, number>][] = (cfg.grid ? gridPoints(cfg.grid) : []).map((p) => [
    `grid point ${key(p)}`,
    p,
  ]);
  if (cfg.bayes) {
    points.push(
      [`bayes space, low end ${key(corner(0))}`, corner(0)],
      [`bayes space, high end ${key(corner(1))}`, corner(1)],
    );
  }
  return points;
}

/**
 * Checks the whole search before anything runs: base.loss.name is given; every grid point's
 * configuration parses, and so do the corners of the Bayesian search's box (every option at its
 * low end, then at its high end); the data set opens, its cases' files are there with a readable
 * header, and every fold leaves training cases. One ComboSegError ('invalid-config') lists them all.
 */
export async function validateTune(cfg: TuneConfig, source = 'tune config'): Promise<void> {
  if (!baseLoss(cfg)) {
    throw preflightError(source, ['base.loss.name: required (the loss whose options are searched)']);
  }
  const points = pointsToCheck(cfg);
  const perPoint: [string, string[]][] = [];
  let parsed: TrainConfig | null = null;
  for (const [where, options] of points) {
    const r = parseProblems(pointTrainValue(cfg, options, 0, 'point'), where);
    if ('problems' in r) perPoint.push([where, r.problems]);
    else parsed ??= r.config;
  }
  // Points differ in loss options only, so one point's folds stand for every point's; when none parses,
  // the base's with a stand-in network and loss (the data and the folds do not depend on them).
  if (!parsed) {
    const standIn = { ...pointTrainValue(cfg, {}, 0, 'point'), network: { name: 'proposed' }, loss: { name: 'dice' } };
    const r = parseProblems(standIn, 'base');
    if ('config' in r) parsed = r.config;
  }
  const runs: { where: string; config: TrainConfig }[] = [];
  for (let f = 0; parsed && f < cfg.folds; f++) {
    const folds = { k: cfg.folds, fold: f, seed: 0, heldOut: 'validation' as const };
    runs.push({ where: `fold ${f + 1}/${cfg.folds}`, config: { ...parsed, folds } });
  }
  const problems = [...groupProblems(perPoint, points.length, 'every point'), ...(await dataProblems(runs, false))];
  if (problems.length) throw preflightError(source, problems);
}

/** Cross-validated score of one point: each fold's best validation Dice (saved, so a rerun reuses it). */
async function score(
  cfg: TuneConfig,
  out: string,
  p: Point,
  method: Trial['method'],
  events: TuneEvents,
): Promise<number[]> {
  const history = keyedFolder({
    parent: join(out, 'runs'),
    name: p.name,
    hash: p.hash,
    config: p.config,
    legacyRun: join('fold-0', 'run'),
  });
  const pointDir = join(out, 'runs', `${p.name}__${p.hash}`);
  const scorePath = (fold: number) => join(pointDir, `fold-${fold}`, 'score.json');
  const saved = Array.from({ length: cfg.folds }, (_, f) => f).filter((f) => existsSync(scorePath(f))).length;
  const unfinished = `resuming: ${saved} of ${cfg.folds} folds scored`;
  const text = historyText(history, p.hash, { finished: saved === cfg.folds, unfinished, root: out });
  events.log?.(`${method} point ${p.name}: ${text.replace('reusing finished result', 'reusing saved scores')}`);
  const scores: number[] = [];
  for (let fold = 0; fold < cfg.folds; fold++) {
    if (existsSync(scorePath(fold))) {
      scores.push((JSON.parse(readFileSync(scorePath(fold), 'utf8')) as { score: number }).score);
      continue;
    }
    const runDir = join(pointDir, `fold-${fold}`, 'run');
    const resume = new RunDir(runDir).hasLast();
    if (!resume) rmSync(runDir, { recursive: true, force: true });
    mkdirSync(join(pointDir, `fold-${fold}`), { recursive: true });
    const trainConfig = parseConfig(pointTrainValue(cfg, p.options, fold, runDir), `tune point ${p.name} fold ${fold}`);
    const r = await trainOnRanks(trainConfig, { resume, events: events.train });
    if (r.stopped) throw stoppedTraining(`tune point ${p.name} fold ${fold}`, runDir);
    const s = Math.max(...r.records.map((x) => x.meanDice ?? 0));
    writeFileAtomic(scorePath(fold), Buffer.from(JSON.stringify({ score: s })));
    scores.push(s);
  }
  return scores;
}

export interface TuneResult {
  grid: Trial[];
  bayes: Trial[];
  gridBest: Trial | null;
  bayesBest: Trial | null;
  bayesRunsToGridBest: number | null;
}

/**
 * Runs (or resumes) the search; writes OUT/tune.json and OUT/tune.md. Nothing runs (and no folder
 * is made) unless the configuration and the data pass `validateTune`.
 */
export async function runTune(config: unknown, events: TuneEvents = {}, source = 'tune config'): Promise<TuneResult> {
  const cfg = parseTune(config, source);
  await validateTune(cfg, source);
  const out = resolve(cfg.out);
  mkdirSync(out, { recursive: true });
  const names = Object.keys(cfg.space);
  const evaluate = async (method: Trial['method'], options: Record<string, number>): Promise<Trial> => {
    const p = pointOf(cfg, options);
    const folds = await score(cfg, out, p, method, events);
    const t = { method, options, score: folds.reduce((a, b) => a + b, 0) / folds.length, folds, configHash: p.hash };
    events.onTrial?.(t);
    return t;
  };
  const grid: Trial[] = [];
  if (cfg.grid) for (const p of gridPoints(cfg.grid)) grid.push(await evaluate('grid', p));
  const bayes: Trial[] = [];
  if (cfg.bayes) {
    const rng = new Rng(cfg.bayes.seed);
    const unit = (o: Record<string, number>) =>
      names.map((n) => (o[n] - cfg.space[n][0]) / (cfg.space[n][1] - cfg.space[n][0]));
    for (let i = 0; i < cfg.bayes.trials; i++) {
      const u = suggest(
        bayes.map((t) => unit(t.options)),
        bayes.map((t) => t.score),
        names.length,
        rng,
        cfg.bayes.initial,
      );
      const options = Object.fromEntries(
        names.map((n, d) => [n, +(cfg.space[n][0] + u[d] * (cfg.space[n][1] - cfg.space[n][0])).toFixed(4)]),
      );
      bayes.push(await evaluate('bayes', options));
    }
  }
  const best = (ts: Trial[]) => (ts.length ? ts.reduce((a, b) => (b.score > a.score ? b : a)) : null);
  const gridBest = best(grid),
    bayesBest = best(bayes);
  let reach: number | null = null;
  if (gridBest) {
    const i = bayes.findIndex((t) => t.score >= gridBest.score);
    reach = i >= 0 ? (i + 1) * cfg.folds : null;
  }
  const result: TuneResult = { grid, bayes, gridBest, bayesBest, bayesRunsToGridBest: reach };
  writeFileAtomic(join(out, 'tune.json'), Buffer.from(JSON.stringify(result, null, 2)));
  writeFileAtomic(join(out, 'tune.md'), Buffer.from(tuneMarkdown(cfg, result)));
  return result;
}

/** "Best: ..." of a search that ran trials (it has a best one). */
function bestLine(best: Trial | null, search: string): string {
  if (!best) throw new Error(`tuneMarkdown: the ${search} search has trials but no best trial`);
  return `Best: ${JSON.stringify(best.options)} with ${best.score.toFixed(4)}`;
}

export function tuneMarkdown(cfg: TuneConfig, r: TuneResult): string {
  const names = Object.keys(cfg.space);
  const row = (t: Trial, i: number) =>
    `| ${i + 1} | ${names.map((n) => t.options[n]).join(' | ')} | ${t.score.toFixed(4)} | ` +
    `${t.folds.map((f) => f.toFixed(3)).join(', ')} | ${t.configHash} |`;
  const table = (ts: Trial[]) =>
    [
      `| # | ${names.join(' | ')} | CV Dice | per fold | config |`,
      `|---|${names.map(() => '---').join('|')}|---|---|---|`,
      ...ts.map(row),
    ].join('\n');
  const lines = [`# α/β search (${cfg.folds}-fold cross-validation)`, ''];
  if (r.grid.length)
    lines.push(
      `## Grid (${r.grid.length} points, ${r.grid.length * cfg.folds} training runs)`,
      '',
      table(r.grid),
      '',
      bestLine(r.gridBest, 'grid'),
      '',
    );
  if (r.bayes.length)
    lines.push(
      '## Bayesian optimisation (GP + expected improvement; ' +
        `${r.bayes.length} points, ${r.bayes.length * cfg.folds} training runs)`,
      '',
      table(r.bayes),
      '',
      bestLine(r.bayesBest, 'Bayesian'),
      '',
    );
  if (r.gridBest && r.bayes.length) {
    const gridRuns = `the grid needed ${r.grid.length * cfg.folds}.`;
    lines.push(
      r.bayesRunsToGridBest === null
        ? `The Bayesian search did not reach the grid's best score (${r.gridBest.score.toFixed(4)}) ` +
            `in ${r.bayes.length * cfg.folds} runs; ${gridRuns}`
        : `The Bayesian search reached the grid's best score after ${r.bayesRunsToGridBest} training runs; ${gridRuns}`,
      '',
    );
  }
  return lines.join('\n');
}
