// Worker-thread side of `comboseg train`: runs the trainer and reports to the
// main thread, which draws progress and turns Ctrl-C into a clean stop.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { toWorkerError } from '../util/worker.js';
import { train, type StopSignal } from './trainer.js';
import { postingEvents, type TrainMessage } from './train-messages.js';

export type { TrainMessage } from './train-messages.js';

function requirePort(): MessagePort {
  if (!parentPort) throw new Error('train-worker runs in a worker thread started by runTraining');
  return parentPort;
}

/** What runTraining posts as workerData: the configuration (checked by train), whether to resume or force. */
function readWorkerData(data: unknown): { config: unknown; resume?: boolean; force?: boolean } {
  if (typeof data !== 'object' || data === null) throw new Error('train-worker: workerData is not an object');
  const config: unknown = 'config' in data ? data.config : undefined;
  const flag = (name: 'resume' | 'force'): boolean | undefined => {
    const v: unknown = name in data ? (data as Record<string, unknown>)[name] : undefined;
    if (v !== undefined && typeof v !== 'boolean') {
      throw new Error(`train-worker: workerData.${name} must be a boolean, got ${typeof v}`);
    }
    return v;
  };
  return { config, resume: flag('resume'), force: flag('force') };
}

const port = requirePort();
const signal: StopSignal = { stop: false };
port.on('message', (m: { type: string }) => {
  if (m.type === 'stop') signal.stop = true;
});
const send = (m: TrainMessage) => port.postMessage(m);
try {
  const input = readWorkerData(workerData);
  const result = await train(input.config, {
    resume: input.resume,
    force: input.force,
    signal,
    events: postingEvents(send),
  });
  send({ type: 'done', result });
} catch (e) {
  send({ type: 'error', error: toWorkerError(e) });
}
port.close();
