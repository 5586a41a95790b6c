// Starts a worker thread on a module that may be TypeScript (a source checkout
// run through tsx) or JavaScript (dist/). tsx's hooks do not carry into worker
// threads, so a tiny script registers them inside the worker first. Errors cross
// back as data (`WorkerError`), keeping a ComboSegError's code and path.
import { Worker } from 'node:worker_threads';
import { ComboSegError, TorchError, isUserError, type ErrorCode } from '../engine/errors.js';

// Valid as CommonJS and as an ES module (a parent run with --input-type=module evaluates it as one).
const BOOT = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  if (workerData.__tsx) (await import(workerData.__tsx)).register();
  await import(workerData.__entry);
})().catch((e) => { setImmediate(() => { throw e; }); });
`;

/** A worker running `entry` (a module URL), with `data` as its workerData. */
export function startWorker(entry: URL, data: Record<string, unknown>): Worker {
  const tsx = entry.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
  return new Worker(BOOT, { eval: true, workerData: { ...data, __entry: entry.href, __tsx: tsx } });
}

/**
 * An error as plain data, to post from a worker (a structured clone keeps neither an
 * error's class nor its fields): the parent rebuilds it with `fromWorkerError`.
 */
export interface WorkerError {
  message: string;
  /** The user can act on it (`isUserError`): shown without a stack. */
  user: boolean;
  name: string;
  code?: ErrorCode;
  path?: string;
  /** The worker's stack, for errors that are not the user's. */
  stack?: string;
}

export function toWorkerError(e: unknown): WorkerError {
  if (!(e instanceof Error)) return { message: String(e), user: false, name: 'Error' };
  if (e instanceof ComboSegError) return { message: e.message, user: true, name: e.name, code: e.code, path: e.path };
  if (isUserError(e)) return { message: e.message, user: true, name: e.name, code: 'engine' };
  return { message: e.message, user: false, name: e.name, stack: e.stack };
}

/** The error a worker posted, as the same kind of error on this side (a ComboSegError keeps its code and path). */
export function fromWorkerError(w: WorkerError): Error {
  if (w.user && w.code === 'engine') return new TorchError(w.message);
  if (w.user) return new ComboSegError(w.message, { code: w.code, path: w.path });
  const e = new Error(w.message);
  e.name = w.name;
  if (w.stack) e.stack = w.stack;
  return e;
}
