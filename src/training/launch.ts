// The data-parallel launcher (torchrun's role): starts this host's ranks as child processes
// (rank-process.ts), hands each its place in the group, relays rank 0's progress, and writes the
// other ranks' output to rank-R.log in the run directory. A rank that fails stops the run: the
// launcher kills the others at once (a rank blocked in a collective cannot act on a message) and
// reports which rank failed and why. A stop request goes to every rank; they agree on the step.
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from '../engine/errors.js';
import { addonPath, native } from '../engine/native.js';
import { fromWorkerError, type WorkerError } from '../util/worker.js';
import { parseConfig, worldSizeOf, type DistributedConfig } from './config.js';
import type { RankJob } from './rank-process.js';
import type { TrainMessage } from './train-worker.js';
import { train, type EpochRecord, type TrainEvents, type TrainResult } from './trainer.js';

export interface LaunchOptions {
  resume?: boolean;
  force?: boolean;
  events?: TrainEvents;
}

/** A launched run: its result, and the two ways to end it early. */
export interface Launched {
  result: Promise<TrainResult>;
  /** Every rank stops after the current step; rank 0 saves the exact position. */
  stop(): void;
  /** Every rank is killed at once (nothing more is saved). */
  abort(): void;
}

/** Trains `config` in this process, or in its data-parallel ranks when it asks for more than one process. */
export async function trainOnRanks(config: unknown, o: LaunchOptions = {}): Promise<TrainResult> {
  if (worldSizeOf(parseConfig(config).distributed) === 1) return train(config, o);
  return (await launchTraining(config, o)).result;
}

/** A TCP port free on this host's loopback right now (the single-host rendezvous). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** Where ranks meet: `master`, or a free loopback port when the run is on this host alone. */
async function rendezvous(d: DistributedConfig): Promise<{ host: string; port: number }> {
  if (d.master === undefined) return { host: '127.0.0.1', port: await freeLoopbackPort() };
  const at = d.master.lastIndexOf(':');
  const port = Number(d.master.slice(at + 1));
  if (!(port >= 1 && port <= 65535)) {
    throw new ComboSegError(`distributed.master '${d.master}': ${port} is not a TCP port`, {
      code: 'invalid-option',
      path: 'config.distributed.master',
    });
  }
  return { host: d.master.slice(0, at), port };
}

/** Refuses before any process starts when this build has no c10d process group. */
function requireCollectives(): void {
  if (native.distInfo().available) return;
  throw new ComboSegError(
    `data-parallel training needs c10d's Gloo process group, which this build (${addonPath()}) lacks: use the ` +
      'default build (Debian libtorch-dev + libgloo-dev; rebuild without COMBOSEG_LIBTORCH); PyTorch wheels ship no ' +
      'Gloo headers',
    { code: 'unsupported' },
  );
}

/** The rank entry and how to run it: through tsx from a source checkout, plain from dist/. */
function rankEntry(): { path: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(`./rank-process.${ts ? 'ts' : 'js'}`, import.meta.url));
  return { path, execArgv: ts ? ['--import', import.meta.resolve('tsx/esm')] : [] };
}

interface RankState {
  rank: number;
  child: ChildProcess;
  done?: TrainResult;
  error?: WorkerError;
}

/**
 * Starts this host's share of the run `config` describes (its `distributed` settings): ranks
 * nodeRank·nproc … nodeRank·nproc + nproc − 1 of nproc·nnodes.
 */
export async function launchTraining(config: unknown, o: LaunchOptions = {}): Promise<Launched> {
  const cfg = parseConfig(config);
  const d = cfg.distributed;
  const worldSize = worldSizeOf(d);
  requireCollectives();
  const { host, port } = await rendezvous(d);
  const runPath = resolve(cfg.out);
  const threads = process.env.COMBOSEG_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / d.nproc)));
  const entry = rankEntry();
  o.events?.log?.(
    `data-parallel: ranks ${d.nodeRank * d.nproc}–${d.nodeRank * d.nproc + d.nproc - 1} of ${worldSize} on this host ` +
      `(${threads} thread(s) each), rendezvous ${host}:${port}`,
  );
  const ranks: RankState[] = Array.from({ length: d.nproc }, (_, i) => {
    const rank = d.nodeRank * d.nproc + i;
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, COMBOSEG_THREADS: threads },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const job: RankJob = {
      type: 'job',
      config,
      resume: Boolean(o.resume),
      force: Boolean(o.force),
      rank,
      worldSize,
      host,
      port,
      timeoutMs: d.timeoutSeconds * 1000,
    };
    child.send(job, (e) => e && child.kill('SIGKILL')); // its 'close' then reports the rank
    return { rank, child };
  });
  return supervise(ranks, runPath, o.events ?? {});
}

/** Follows the ranks to the end: the result of rank 0 (or this host's first), or the first failure. */
function supervise(ranks: RankState[], runPath: string, events: TrainEvents): Launched {
  const records: EpochRecord[] = [];
  let failure: Error | null = null;
  const killAll = (): void => {
    for (const r of ranks) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  };
  const fail = (e: Error): void => {
    failure ??= e;
    killAll();
  };
  const reporter = ranks[0];
  const result = new Promise<TrainResult>((resolveRun, reject) => {
    let exited = 0;
    for (const r of ranks) {
      const write = rankLog(runPath, r.rank);
      const toLog = r === reporter ? (d: Buffer) => process.stderr.write(d) : (d: Buffer) => write(d.toString());
      r.child.stdout?.on('data', toLog);
      r.child.stderr?.on('data', toLog);
      // A child that cannot be started, or a message it can no longer take, is that rank's failure.
      r.child.on('error', (e) => fail(new ComboSegError(`rank ${r.rank}: ${e.message}`)));
      r.child.on('message', (m: TrainMessage) => {
        if (m.type === 'done') r.done = m.result as TrainResult;
        else if (m.type === 'error') {
          r.error = m.error;
          fail(rankError(r.rank, m.error));
        } else if (r !== reporter) {
          if (m.type === 'log') write(`${m.message}\n`);
        } else relay(m, events, records);
      });
      // 'close' comes after the rank's last message and output.
      r.child.on('close', (code, signal) => {
        if (!r.done && !r.error) {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          fail(
            new ComboSegError(`rank ${r.rank} (pid ${r.child.pid}) ${how} before the run ended; stopped the others`),
          );
        }
        if (++exited < ranks.length) return;
        if (failure) reject(failure);
        // Rank 0's own result: with a resumed run's earlier epochs, which were never relayed.
        else resolveRun(reporter.done as TrainResult);
      });
    }
  });
  return {
    result,
    stop: () => {
      for (const r of ranks) if (r.child.connected) r.child.send({ type: 'stop' }, (e) => e && fail(e));
    },
    abort: () => fail(new ComboSegError('aborted: every rank was killed')),
  };
}

/** Rank 0's messages as the single-process trainer's events. */
function relay(m: TrainMessage, events: TrainEvents, records: EpochRecord[]): void {
  if (m.type === 'step') events.onStep?.(m);
  else if (m.type === 'epoch') {
    records.push(m.record as EpochRecord);
    events.onEpoch?.(m.record as EpochRecord);
  } else if (m.type === 'validation') events.onValidation?.(m.done, m.total);
  else if (m.type === 'log') events.log?.(m.message);
}

/** A rank's error, naming the rank (a ComboSegError keeps its code and path). */
function rankError(rank: number, w: WorkerError): Error {
  return fromWorkerError({ ...w, message: `rank ${rank}: ${w.message}` });
}

/** Appends to RUN/rank-R.log, made when the first line comes (rank 0 may still be setting the folder up). */
function rankLog(runPath: string, rank: number): (text: string) => void {
  const path = join(runPath, `rank-${rank}.log`);
  let started = false;
  return (text) => {
    if (!started) {
      mkdirSync(runPath, { recursive: true });
      appendFileSync(path, `--- ${new Date().toISOString()} rank ${rank}\n`);
      started = true;
    }
    appendFileSync(path, text);
  };
}
