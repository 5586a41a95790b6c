import { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { ComboSegError } from '../engine/errors.js';
import { readRunConfig, type EpochRecord } from '../training/trainer.js';
import type { TrainMessage } from '../training/train-worker.js';
import { startWorker } from '../util/worker.js';
import { Progress } from '../util/progress.js';

/** Runs training in a worker thread; progress here, Ctrl-C stops cleanly after saving. */
export async function runTraining(config: unknown, resume: boolean, quiet = false): Promise<{ records: EpochRecord[]; stopped: boolean }> {
  const entry = new URL(`../training/train-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  const worker = startWorker(entry, { config, resume });
  let bar: Progress | null = null, barEpoch = -1;
  const records: EpochRecord[] = [];
  let interrupted = 0;
  const onSigint = () => {
    interrupted++;
    if (interrupted === 1) {
      process.stderr.write('\nstopping after this step (the run is saved; Ctrl-C again to abort without saving)\n');
      worker.postMessage({ type: 'stop' });
    } else {
      void worker.terminate();
    }
  };
  process.on('SIGINT', onSigint);
  try {
    return await new Promise((resolveRun, reject) => {
      let done = false;
      worker.on('message', (m: TrainMessage) => {
        if (m.type === 'step') {
          if (m.epoch !== barEpoch) { bar = quiet ? null : new Progress({ label: `epoch ${m.epoch + 1}`, total: m.total, unit: 'patch' }); barEpoch = m.epoch; }
          bar?.set(m.index, `loss ${m.loss.toFixed(4)}`);
        } else if (m.type === 'epoch') {
          const r = m.record as EpochRecord;
          records.push(r);
          if (!quiet) {
            const dice = r.validation ? Object.entries(r.validation).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ') : 'no validation cases';
            console.log(`epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, ${r.seconds.toFixed(0)} s; validation Dice ${r.meanDice?.toFixed(3) ?? 'n/a'} (${dice})${r.best ? '  ← best' : ''}`);
          }
        } else if (m.type === 'log') {
          if (!quiet) console.log(m.message);
        } else if (m.type === 'done') {
          done = true;
          resolveRun({ records, stopped: (m.result as { stopped: boolean }).stopped });
        } else if (m.type === 'error') {
          done = true;
          reject(m.user ? new ComboSegError(m.message) : new Error(m.message));
        }
      });
      worker.on('error', (e) => { done = true; reject(e); });
      worker.on('exit', (code) => { if (!done) reject(new ComboSegError(`training stopped without saving (worker exit ${code})`)); });
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `comboseg train --config FILE` or `comboseg train --resume RUN_DIR`. */
export function trainCommand(): Command {
  return new Command('train')
    .description('train a network (config in JSON; see README), or resume a run')
    .option('--config <file>', 'training configuration (JSON)')
    .option('--resume <runDir>', 'continue the run in RUN_DIR from its last checkpoint')
    .option('--out <dir>', 'run directory (overrides "out" in the config)')
    .action(async (o: { config?: string; resume?: string; out?: string }) => {
      if (!o.config === !o.resume) throw new ComboSegError('give either --config FILE or --resume RUN_DIR');
      let config: unknown;
      if (o.resume) config = readRunConfig(o.resume);
      else {
        if (!existsSync(o.config!)) throw new ComboSegError(`${o.config}: no such file`);
        try {
          config = JSON.parse(readFileSync(o.config!, 'utf8'));
        } catch (e) {
          throw new ComboSegError(`${o.config}: not valid JSON (${(e as Error).message})`);
        }
        if (o.out) (config as Record<string, unknown>).out = o.out;
      }
      const r = await runTraining(config, Boolean(o.resume));
      if (r.stopped) process.exitCode = 130;
    });
}
