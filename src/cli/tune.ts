import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { ComboSegError } from '../engine/errors.js';
import { parseTune, runTune, tuneMarkdown } from '../experiments/tune.js';

/** `comboseg tune --config FILE`: α/β grid search with k-fold CV, and Bayesian optimisation. */
export function tuneCommand(): Command {
  return new Command('tune')
    .description('search loss options (α, β) by k-fold cross-validation: a grid and/or Bayesian optimisation; resumable')
    .requiredOption('--config <file>', 'tune configuration (JSON; see README)')
    .action(async (o: { config: string }) => {
      if (!existsSync(o.config)) throw new ComboSegError(`${o.config}: no such file`);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(o.config, 'utf8'));
      } catch (e) {
        throw new ComboSegError(`${o.config}: not valid JSON (${(e as Error).message})`);
      }
      const cfg = parseTune(json, o.config);
      const result = await runTune(cfg, { onTrial: (t) => console.log(`${t.method} ${JSON.stringify(t.options)}: CV Dice ${t.score.toFixed(4)}`) });
      console.log(`\n${tuneMarkdown(cfg, result)}`);
    });
}
