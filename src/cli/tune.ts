import { Command } from 'commander';
import { readJsonFile } from './read-json.js';
import { parseTune, runTune, tuneMarkdown } from '../experiments/tune.js';
import { withBasePrecision } from '../experiments/grid.js';

/** `comboseg tune --config FILE`: α/β grid search with k-fold CV, and Bayesian optimisation. */
export function tuneCommand(): Command {
  return new Command('tune')
    .description(
      'search loss options (α, β) by k-fold cross-validation: a grid and/or Bayesian optimisation; resumable',
    )
    .requiredOption('--config <file>', 'tune configuration (JSON; see README)')
    .option('--precision <p>', "every run's precision, over base.precision: auto | fp32 | bf16")
    .action(async (o: { config: string; precision?: string }) => {
      const json = readJsonFile(o.config);
      const cfg = withBasePrecision(parseTune(json, o.config), o.precision);
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
