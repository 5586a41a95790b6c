// Starts a worker thread on a module that may be TypeScript (a source checkout
// run through tsx) or JavaScript (dist/). tsx's hooks do not carry into worker
// threads, so a tiny script registers them inside the worker first.
import { Worker } from 'node:worker_threads';

const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.__tsx) (await import(workerData.__tsx)).register();
  await import(workerData.__entry);
})().catch((e) => { setImmediate(() => { throw e; }); });
`;

/** A worker running `entry` (a module URL), with `data` as its workerData. */
export function startWorker(entry: URL, data: Record<string, unknown>): Worker {
  const tsx = entry.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
  return new Worker(BOOT, { eval: true, workerData: { ...data, __entry: entry.href, __tsx: tsx } });
}
