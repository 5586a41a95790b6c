// What a training run reports across a thread or process boundary (the CLI's worker thread, a data-parallel
// rank's process): the trainer's events as messages, and back.
import type { WorkerError } from '../util/worker.js';
import type { TrainEvents } from './trainer.js';

export type TrainMessage =
  | { type: 'step'; epoch: number; index: number; total: number; loss: number }
  | { type: 'epoch'; record: unknown }
  | { type: 'validation'; done: number; total: number }
  | { type: 'log'; message: string }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: WorkerError };

/** The trainer's events, each posted as its message. */
export function postingEvents(send: (m: TrainMessage) => void): TrainEvents {
  return {
    onStep: (s) => send({ type: 'step', ...s }),
    onEpoch: (record) => send({ type: 'epoch', record }),
    onValidation: (done, total) => send({ type: 'validation', done, total }),
    log: (message) => send({ type: 'log', message }),
  };
}
