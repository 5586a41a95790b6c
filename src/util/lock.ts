// One writer per folder: a lock file holding who holds it, created atomically (a complete file is
// linked into place, so nobody ever reads a half-written one). A lock whose holder is gone (a dead or
// zombie pid on this host, or a pid now running another process) is taken over, saying so; taking
// over is itself serialised, so two processes that find one stale lock cannot both win.
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601. */
  started: string;
  /** What holds it: "train", "predict", "experiment". */
  what: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid from its holder. */
  since?: number;
}

/** Field 22 of /proc/PID/stat (start time), and whether the process is a zombie; null where unknown. */
function procStat(pid: number): { since: number; zombie: boolean } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { since: Number(rest[19]), zombie: rest[0] === 'Z' };
  } catch {
    return null;
  }
}

function alive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
  const stat = procStat(holder.pid);
  if (!stat) return true;
  if (stat.zombie) return false; // killed, not yet reaped: holds nothing
  return holder.since === undefined || holder.since === stat.since; // else the pid was reused
}

function readHolder(path: string): LockHolder | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof v !== 'object' || v === null) return null;
    const h = v as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return null;
    const since = typeof h.since === 'number' ? h.since : undefined;
    return { pid: h.pid, host: h.host, started: String(h.started), what: String(h.what), since };
  } catch {
    return null;
  }
}

const sameHolder = (a: LockHolder | null, b: LockHolder | null): boolean =>
  a !== null && b !== null && a.pid === b.pid && a.host === b.host && a.started === b.started;

/** Creates `path` holding `text` only if it does not exist (a complete file, linked into place). */
function createExclusive(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const ageMs = (path: string): number => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

const pause = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

export class FolderLock {
  private constructor(
    readonly path: string,
    private readonly holder: LockHolder,
    private readonly onExit: () => void,
  ) {}

  /** The lock file's name inside a locked folder. */
  static readonly FILE = 'comboseg.lock';

  /**
   * Locks `dir` (which must exist) for this process, or throws a ComboSegError (code 'conflict')
   * naming the live holder. A stale lock is taken over and `log` says whose it was.
   */
  static acquire(dir: string, what: string, log: (m: string) => void = () => undefined): FolderLock {
    const path = join(dir, FolderLock.FILE);
    const me: LockHolder = {
      pid: process.pid,
      host: hostname(),
      started: new Date().toISOString(),
      what,
      since: procStat(process.pid)?.since,
    };
    const text = JSON.stringify(me);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        if (createExclusive(path, text)) return FolderLock.held(path, me);
      } catch (e) {
        throw new ComboSegError(`${dir}: cannot create its lock file (${(e as Error).message})`, {
          code: 'failed',
          path,
          cause: e,
        });
      }
      const holder = readHolder(path);
      if (holder && (holder.host !== me.host || alive(holder))) throw FolderLock.inUse(dir, path, holder, me.host);
      if (!holder && ageMs(path) < 5000) {
        pause(20); // unreadable and fresh: a writer of another version, or a damaged file; look again
        continue;
      }
      FolderLock.takeOver(path, holder, log);
    }
    throw new ComboSegError(`${dir}: could not take its lock (other processes kept taking it)`, {
      code: 'conflict',
      path,
    });
  }

  /** Removes a stale lock, once: under a second lock, and only if it is still the same stale one. */
  private static takeOver(path: string, stale: LockHolder | null, log: (m: string) => void): void {
    const guard = `${path}.takeover`;
    if (ageMs(guard) > 10_000) rmSync(guard, { force: true }); // a taker that died meanwhile
    if (!createExclusive(guard, String(process.pid))) {
      pause(20);
      return;
    }
    try {
      const now = readHolder(path);
      if (now === null ? stale === null : sameHolder(now, stale)) {
        rmSync(path, { force: true });
        const dir = join(path, '..');
        log(
          stale
            ? `${dir}: taking over the lock of pid ${stale.pid} (${stale.what}), which is no longer running`
            : `${dir}: taking over an unreadable lock file`,
        );
      }
    } finally {
      rmSync(guard, { force: true });
    }
  }

  private static inUse(dir: string, path: string, holder: LockHolder, host: string): ComboSegError {
    const where = holder.host === host ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
    return new ComboSegError(
      `${dir} is in use by ${where} (${holder.what}, since ${holder.started}); ` +
        `wait for it to finish or stop it (if that process is gone, delete ${path})`,
      { code: 'conflict', path },
    );
  }

  private static held(path: string, holder: LockHolder): FolderLock {
    let lock: FolderLock | null = null;
    const onExit = (): void => lock?.release();
    process.once('exit', onExit);
    lock = new FolderLock(path, holder, onExit);
    return lock;
  }

  /** Removes the lock file if it is still this process's (idempotent). */
  release(): void {
    process.off('exit', this.onExit);
    if (sameHolder(readHolder(this.path), this.holder)) rmSync(this.path, { force: true });
  }
}
