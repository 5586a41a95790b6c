import { Command } from 'commander';
import { ComboSegError } from '../engine/errors.js';
import { join, resolve } from 'node:path';
import { readJsonFile } from './read-json.js';
import {
  GridStopped,
  runExperiment,
  parseExperiment,
  withBasePrecision,
  withBaseProcesses,
  type CellResult,
  type ExperimentConfig,
  type PartialGrid,
} from '../experiments/grid.js';
import { experimentMarkdown } from '../experiments/tables.js';
import { experimentTitle, writeExperimentReport } from '../experiments/figures.js';
import { Progress } from '../util/progress.js';

/** `comboseg experiment --config FILE`: runs (or resumes) a grid and writes results.json and report.md. */
export function experimentCommand(): Command {
  return new Command('experiment')
    .description('run a grid of networks × losses × options × seeds; resumable; writes results.json and report.md')
    .requiredOption('--config <file>', 'experiment configuration (JSON; see README)')
    .option('--precision <p>', "every cell's precision, over base.precision: auto | fp32 | bf16")
    .option(
      '--nproc <n>',
      'every cell trains in N data-parallel processes on this host (same results, same folders)',
      (v) => Number(v),
    )
    .option('--max-hours <h>', 'start no new training after H hours; run again to go on (a long grid in parts)', (v) =>
      Number(v),
    )
    .action(async (o: { config: string; precision?: string; nproc?: number; maxHours?: number }) => {
      if (o.maxHours !== undefined && !(o.maxHours > 0)) {
        throw new ComboSegError(`--max-hours must be a number of hours > 0, got ${o.maxHours}`, {
          code: 'invalid-option',
        });
      }
      const json = readJsonFile(o.config);
      const cfg = withBaseProcesses(withBasePrecision(parseExperiment(json, o.config), o.precision), o.nproc);
      let bar: Progress | null = null,
        barKey = '';
      const results = await runExperimentReporting(
        cfg,
        {
          // One line per cell (and per fold): reused, resumed, trained, or trained anew because its
          // configuration changed (with what changed).
          log: (line) => console.log(line),
          onCell: () => {
            barKey = '';
          },
          train: {
            onStep: (s) => {
              if (barKey !== `${s.epoch}`) {
                bar = new Progress({ label: `  epoch ${s.epoch + 1}`, total: s.total, unit: 'patch' });
                barKey = `${s.epoch}`;
              }
              bar?.set(s.index, `loss ${s.loss.toFixed(4)}`);
            },
            onEpoch: (r) => {
              const dice = r.meanDice?.toFixed(3) ?? 'n/a';
              console.log(`  epoch ${r.epoch}: loss ${r.trainLoss.toFixed(4)}, validation Dice ${dice}`);
            },
          },
        },
        o.config,
        { maxHours: o.maxHours },
      );
      await report(cfg, results);
    });
}

/** Runs the grid; one stopped in time still gets its report (of the cells finished) before the stop is told. */
async function runExperimentReporting(cfg: ExperimentConfig, ...rest: RunArgs): Promise<CellResult[]> {
  try {
    return await runExperiment(cfg, ...rest);
  } catch (e) {
    if (e instanceof GridStopped) await report(cfg, e.finished, e.partial);
    throw e;
  }
}

type RunArgs = Parameters<typeof runExperiment> extends [unknown, ...infer R] ? R : never;

async function report(cfg: ExperimentConfig, results: CellResult[], partial?: PartialGrid): Promise<void> {
  const out = resolve(cfg.out);
  await writeExperimentReport(cfg, out, results, partial);
  const title = experimentTitle(out.split('/').pop() ?? '', partial);
  console.log(`\n${experimentMarkdown(title, results, 'combo', cfg.sweep?.option)}`);
  console.log(
    `results: ${join(out, 'results.json')}\n` +
      `report:  ${join(out, 'report.html')} and report.md, figures in ${join(out, 'figures')}`,
  );
}
