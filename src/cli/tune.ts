import { Command } from 'commander';
import { readJsonFile } from './read-json.js';
import { parseTune, runTune, tuneMarkdown } from '../experiments/tune.js';
import { withBasePrecision, withBaseProcesses } from '../experiments/grid.js';

/** `comboseg tune --config FILE`: α/β grid search with k-fold CV, and Bayesian optimisation. */
export function tuneCommand(): Command {
  return new Command('tune')
    .description(
      'search loss options (α, β) by k-fold cross-validation: a grid and/or Bayesian optimisation; resumable',
    )
    .requiredOption('--config <file>', 'tune configuration (JSON; see README)')
    .option('--precision <p>', "every run's precision, over base.precision: auto | fp32 | bf16")
    .option(
      '--nproc <n>',
      'every run trains in N data-parallel processes on this host (same results, same folders)',
      (v) => Number(v),
    )
    .action(async (o: { config: string; precision?: string; nproc?: number }) => {
      const json = readJsonFile(o.config);
      const cfg = withBaseProcesses(withBasePrecision(parseTune(json, o.config), o.precision), o.nproc);
      const result = await runTune(
        cfg,
        {
          log: (line) => console.log(line),
          onTrial: (t) => console.log(`${t.method} ${JSON.stringify(t.options)}: CV Dice ${t.score.toFixed(4)}`),
        },
        o.config,
      );
      console.log(`\n${tuneMarkdown(cfg, result)}`);
    });
}
