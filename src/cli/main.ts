// comboseg command line: one file per command under src/cli, wired here.
import { Command } from 'commander';
import { isUserError } from '../engine/errors.js';
import { engineCommand } from './engine.js';
import { infoCommand } from './info.js';
import { synthCommand } from './synth.js';
import { evaluateCommand } from './evaluate.js';
import { trainCommand } from './train.js';
import { predictCommand } from './predict.js';
import { exportCommand } from './export.js';
import { experimentCommand } from './experiment.js';
import { tuneCommand } from './tune.js';
import { serveCommand } from './serve.js';
import { setupCommand } from './setup.js';
import { watchLauncher } from './signals.js';

const program = new Command('comboseg')
  .description('3-D medical image segmentation with the Combo loss (libtorch from TypeScript)')
  .version('0.1.0');
program.addCommand(trainCommand());
program.addCommand(predictCommand());
program.addCommand(exportCommand());
program.addCommand(evaluateCommand());
program.addCommand(experimentCommand());
program.addCommand(tuneCommand());
program.addCommand(serveCommand());
program.addCommand(infoCommand());
program.addCommand(synthCommand());
program.addCommand(engineCommand());
program.addCommand(setupCommand());

watchLauncher();
// A reader that stops early (`comboseg evaluate --json | head`) is not an error: end quietly, as cat does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    // A terminal that hung up (EIO, ENXIO): nothing can be shown any more, but a stop in progress
    // (SIGHUP saves the run) must go on: further writes are dropped.
    if (e.code === 'EIO' || e.code === 'ENXIO') {
      stream.write = () => true;
      return;
    }
    throw e;
  });
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Errors users can cause (a ComboSegError, libtorch refusing an op) are printed plainly;
  // anything else keeps its stack.
  if (isUserError(e)) {
    process.stderr.write(`comboseg: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
