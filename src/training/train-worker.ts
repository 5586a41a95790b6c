// Worker-thread side of `comboseg train`: runs the trainer and reports to the
// main thread, which draws progress and turns Ctrl-C into a clean stop.
import { parentPort, workerData } from 'node:worker_threads';
import { toWorkerError, type WorkerError } from '../util/worker.js';
import { train, type StopSignal } from './trainer.js';

export type TrainMessage =
  | { type: 'step'; epoch: number; index: number; total: number; loss: number }
  | { type: 'epoch'; record: unknown }
  | { type: 'validation'; done: number; total: number }
  | { type: 'log'; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: WorkerError };

const port = parentPort!;
const signal: StopSignal = { stop: false };
port.on('message', (m: { type: string }) => {
  if (m.type === 'stop') signal.stop = true;
});
const send = (m: TrainMessage) => port.postMessage(m);
try {
  const result = await train(workerData.config, {
    resume: workerData.resume,
    signal,
    events: {
      onStep: (s) => send({ type: 'step', ...s }),
      onEpoch: (record) => send({ type: 'epoch', record }),
      onValidation: (done, total) => send({ type: 'validation', done, total }),
      log: (message) => send({ type: 'log', message }),
    },
  });
  send({ type: 'done', result });
} catch (e) {
  send({ type: 'error', error: toWorkerError(e) });
}
port.close();
