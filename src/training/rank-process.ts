// One rank of a data-parallel run, a process started by the launcher (src/training/launch.ts) with an
// IPC channel. It joins the c10d group, trains, and reports as the single-process worker does
// (TrainMessage). A stop comes as a message, a signal, or the launcher's death (the channel closes):
// the ranks agree on it after the step (anyRank), and rank 0 saves the exact position.
import { toWorkerError } from '../util/worker.js';
import { ComboSegError } from '../engine/errors.js';
import { STOP_SIGNALS } from '../cli/signals.js';
import { initProcessGroup, destroyProcessGroup } from './distributed.js';
import { train, type StopSignal, type TrainResult } from './trainer.js';
import { postingEvents, type TrainMessage } from './train-messages.js';

/** What the launcher sends first. */
export interface RankJob {
  type: 'job';
  config: unknown;
  resume: boolean;
  force: boolean;
  rank: number;
  worldSize: number;
  host: string;
  port: number;
  timeoutMs: number;
}

const send = (m: TrainMessage, then?: () => void): void => {
  if (process.connected) process.send?.(m, undefined, {}, () => then?.());
  else then?.();
};

async function runRank(job: RankJob, signal: StopSignal): Promise<TrainResult> {
  const { rank, worldSize, host, port, timeoutMs } = job;
  initProcessGroup({ rank, worldSize, host, port, timeoutMs });
  try {
    const result = await train(job.config, {
      resume: job.resume,
      force: job.force,
      signal,
      events: postingEvents(send),
    });
    return result;
  } finally {
    destroyProcessGroup();
  }
}

/** A collective that failed because a peer went away, said so (c10d's own words kept after it). */
function lostContact(e: unknown, job: RankJob): unknown {
  if (
    !(e instanceof Error) ||
    e instanceof ComboSegError ||
    !/gloo|connection (closed|reset)|timed out|timeout/i.test(e.message)
  )
    return e;
  const why = e.message.split('\n')[0];
  return new ComboSegError(
    `lost contact with the other ranks of ${job.worldSize} (a rank stopped, or its host went away, or it did ` +
      `not answer within ${job.timeoutMs / 1000} s): ${why}`,
    { code: 'distributed', cause: e },
  );
}

if (!process.send) throw new Error('rank-process runs as a child started by the training launcher (with IPC)');
const signal: StopSignal = { stop: false };
for (const s of STOP_SIGNALS) process.on(s, () => (signal.stop = true));
process.on('disconnect', () => (signal.stop = true));
process.once('message', (job: RankJob) => {
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') signal.stop = true;
  });
  // The last message is written out before the channel closes (a large one may take several writes).
  const disconnect = (): void => {
    if (process.connected) process.disconnect();
  };
  runRank(job, signal)
    .then((result) => send({ type: 'done', result }, disconnect))
    .catch((e: unknown) => {
      process.exitCode = 1;
      send({ type: 'error', error: toWorkerError(lostContact(e, job)) }, disconnect);
    });
});
