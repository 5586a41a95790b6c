import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file atomically: a temporary file beside it, flushed, then renamed
 * over the target. A crash leaves either the old file or the new one, never half.
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | Uint8Array[]): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const parts = Array.isArray(chunks) ? chunks : [chunks];
  const fd = openSync(tmp, 'w');
  try {
    for (const p of parts) {
      let off = 0;
      while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Removes what writers that died mid-write left in `dir`: `writeFileAtomic`'s `.NAME.PID.RANDOM.tmp`
 * files and `.comboseg-write-*` folders (data/io.ts). Call it only while holding the folder's lock,
 * when no live writer owns them. Returns their names.
 */
export function removeStaleWrites(dir: string): string[] {
  // Only names this code makes: `.NAME.PID.RANDOM.tmp` (above) and `.comboseg-write-PID-RANDOM`.
  const ours = (n: string): boolean =>
    /^\..+\.\d+\.[a-z0-9]+\.tmp$/.test(n) || /^\.comboseg-write-\d+-[a-z0-9]+$/.test(n);
  const stale = readdirSync(dir).filter(ours);
  for (const n of stale) rmSync(join(dir, n), { recursive: true, force: true });
  return stale;
}
