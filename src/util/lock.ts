// One writer per folder: a lock file created atomically (O_EXCL) holding who holds it. A lock whose
// holder is gone (a dead pid on this host) is taken over, saying so; a live holder is an error.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601. */
  started: string;
  /** What holds it: "train", "predict", "experiment cell X". */
  what: string;
}

/** A zombie (killed, not yet reaped by its parent) holds nothing: Linux says so in /proc/PID/stat. */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !zombie(pid);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readHolder(path: string): LockHolder | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof v !== 'object' || v === null) return null;
    const h = v as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return null;
    return { pid: h.pid, host: h.host, started: String(h.started), what: String(h.what) };
  } catch {
    return null; // gone meanwhile, or a writer died before finishing it
  }
}

export class FolderLock {
  private constructor(
    readonly path: string,
    private readonly holder: LockHolder,
  ) {}

  /** The lock file's name inside a locked folder. */
  static readonly FILE = 'comboseg.lock';

  /**
   * Locks `dir` (which must exist) for this process, or throws a ComboSegError (code 'conflict')
   * naming the live holder. A stale lock is taken over and `log` says whose it was.
   */
  static acquire(dir: string, what: string, log: (m: string) => void = () => undefined): FolderLock {
    const path = join(dir, FolderLock.FILE);
    const me: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), what };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, JSON.stringify(me), { flag: 'wx' });
        const lock = new FolderLock(path, me);
        process.once('exit', () => lock.release());
        return lock;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ComboSegError(`${dir}: cannot create its lock file (${(e as Error).message})`, {
            code: 'failed',
            path,
            cause: e,
          });
        }
      }
      const holder = readHolder(path);
      if (holder && (holder.host !== me.host || alive(holder.pid))) {
        const where = holder.host === me.host ? `pid ${holder.pid}` : `pid ${holder.pid} on ${holder.host}`;
        throw new ComboSegError(
          `${dir} is in use by ${where} (${holder.what}, since ${holder.started}); ` +
            `wait for it to finish or stop it (if that process is gone, delete ${path})`,
          { code: 'conflict', path },
        );
      }
      log(
        holder
          ? `${dir}: taking over the lock of pid ${holder.pid} (${holder.what}), which is no longer running`
          : `${dir}: taking over an unreadable lock file`,
      );
      rmSync(path, { force: true });
    }
    throw new ComboSegError(`${dir}: another process took its lock at the same moment`, { code: 'conflict', path });
  }

  /** Removes the lock file if it is still this process's (idempotent). */
  release(): void {
    const current = readHolder(this.path);
    if (current?.pid === this.holder.pid && current.started === this.holder.started) rmSync(this.path, { force: true });
  }
}
