// `comboseg tune`: choosing the loss's α and β as the paper did — a grid
// evaluated by k-fold cross-validation — and, beyond the paper (its stated
// future work), Bayesian optimisation of the same objective, reported side by
// side with the number of training runs each needed. The objective of a point is
// the mean over folds of the best validation Dice of a training run. Every run
// is kept on disk, so an interrupted search resumes without repeating one.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import { writeFileAtomic } from '../util/fs.js';
import { train, type TrainEvents } from '../training/trainer.js';
import { RunDir } from '../training/run-dir.js';
import { parseConfig } from '../training/config.js';
import { suggest } from './bayes.js';

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

/** Cross-validated score of one point: mean over folds of each run's best validation Dice. */
async function score(
  cfg: TuneConfig,
  out: string,
  options: Record<string, number>,
  events?: TrainEvents,
): Promise<number[]> {
  const base = cfg.base as { loss?: { name: string; options?: Record<string, unknown> } };
  if (!base.loss?.name) {
    throw new ComboSegError('tune: base.loss.name is required', { code: 'invalid-config', path: 'base.loss.name' });
  }
  const scores: number[] = [];
  for (let fold = 0; fold < cfg.folds; fold++) {
    const dir = join(out, 'runs', key(options), `fold-${fold}`);
    const done = join(dir, 'score.json');
    if (existsSync(done)) {
      scores.push((JSON.parse(readFileSync(done, 'utf8')) as { score: number }).score);
      continue;
    }
    const runDir = join(dir, 'run');
    const resume = new RunDir(runDir).hasLast();
    if (!resume) rmSync(runDir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const trainConfig = parseConfig(
      {
        ...cfg.base,
        split: undefined,
        folds: { k: cfg.folds, fold, seed: 0 },
        loss: { name: base.loss.name, options: { ...(base.loss.options ?? {}), ...options } },
        out: runDir,
      },
      `tune point ${key(options)} fold ${fold}`,
    );
    const r = await train(trainConfig, { resume, events });
    const s = Math.max(...r.records.map((x) => x.meanDice ?? 0));
    writeFileAtomic(done, Buffer.from(JSON.stringify({ score: s })));
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

/** Runs (or resumes) the search; writes OUT/tune.json and OUT/tune.md. */
export async function runTune(
  config: unknown,
  events: { onTrial?: (t: Trial) => void; train?: TrainEvents } = {},
): Promise<TuneResult> {
  const cfg = parseTune(config);
  const out = resolve(cfg.out);
  mkdirSync(out, { recursive: true });
  const names = Object.keys(cfg.space);
  const evaluate = async (method: Trial['method'], options: Record<string, number>): Promise<Trial> => {
    const folds = await score(cfg, out, options, events.train);
    const t = { method, options, score: folds.reduce((a, b) => a + b, 0) / folds.length, folds };
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
    `${t.folds.map((f) => f.toFixed(3)).join(', ')} |`;
  const table = (ts: Trial[]) =>
    [
      `| # | ${names.join(' | ')} | CV Dice | per fold |`,
      `|---|${names.map(() => '---').join('|')}|---|---|`,
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
