// An uploaded zip of DICOM slices (a series exported from a PACS or viewer) unpacked into a folder, which
// the job then reads as a series (src/data/dicom.ts). The archive is checked before anything is written:
// at most MAX_ENTRIES files and `limitBytes` uncompressed in all (a zip bomb is refused, not unpacked);
// entries are flattened to numbered names, so no path in the archive can leave the folder. The server
// unpacks in a worker thread (`unpackDicomZipOffThread`) so a large series does not stall other requests.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { unzipSync } from 'fflate';
import { fromWorkerError, startWorker, type WorkerError } from '../util/worker.js';
import { HttpError } from './http.js';

export const MAX_ENTRIES = 10_000;

/** Unpacks `zipPath` into the new folder `into`; 400 for an archive that is not one, 413 for one too large. */
export function unpackDicomZip(zipPath: string, into: string, limitBytes: number, name: string): void {
  let total = 0,
    entries = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFileSync(zipPath), {
      filter: (f) => {
        if (f.name.endsWith('/') || basename(f.name).startsWith('.') || f.name.startsWith('__MACOSX/')) return false;
        // Sizes are the archive's own claims: a stored entry must claim its real size, and the larger claim counts.
        if (f.compression === 0 && f.size !== f.originalSize) {
          throw new HttpError(400, `'${name}': entry ${basename(f.name)} misstates its size`);
        }
        total += Math.max(f.size, f.originalSize);
        if (++entries > MAX_ENTRIES) throw new HttpError(413, `'${name}' holds more than ${MAX_ENTRIES} files`);
        if (total > limitBytes) {
          const mib = (limitBytes / 2 ** 20).toFixed(0);
          throw new HttpError(413, `'${name}' unpacks to more than ${mib} MiB; upload a smaller series`);
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, `'${name}' is not a readable zip archive (${(e as Error).message})`);
  }
  const names = Object.keys(files).sort();
  if (!names.length) throw new HttpError(400, `'${name}' holds no files`);
  mkdirSync(into); // not recursive: the uploads folder must still be there
  try {
    names.forEach((n, i) => writeFileSync(join(into, `${String(i).padStart(5, '0')}-${basename(n)}`), files[n]));
  } catch (e) {
    rmSync(into, { recursive: true, force: true });
    throw e;
  }
}

/** What the unpacking worker posts back: done, an HttpError's status and message, or any other error. */
export type UnzipOutcome =
  { ok: true } | { ok: false; status: number; message: string } | { ok: false; error: WorkerError };

/**
 * `unpackDicomZip` in a worker thread: the same checks and errors, the event loop left free. Whatever ends it
 * other than success (a refusal, a crash, `signal` aborting as the server closes) leaves no folder behind;
 * an abort answers 503 once the worker has stopped, so nothing is written after the promise settles.
 */
export function unpackDicomZipOffThread(
  zipPath: string,
  into: string,
  limitBytes: number,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  const stopped = () => new HttpError(503, `the server stopped while unpacking '${name}'`);
  if (signal?.aborted) return Promise.reject(stopped());
  const worker = startWorker(
    new URL(`./dicom-unzip-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
    { zipPath, into, limitBytes, name },
  );
  return new Promise<void>((resolve, reject) => {
    let settled = false,
      aborted = false;
    const onAbort = () => {
      aborted = true;
      void worker.terminate(); // settles on 'exit', once the thread can no longer write
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (!error) {
        resolve();
        return;
      }
      try {
        rmSync(into, { recursive: true, force: true });
      } catch {
        // The error that ended the unpacking is the one to report; a leftover folder lives under the uploads folder.
      }
      reject(error);
    };
    worker.once('message', (m: UnzipOutcome) =>
      settle(m.ok ? undefined : 'status' in m ? new HttpError(m.status, m.message) : fromWorkerError(m.error)),
    );
    worker.once('error', (e) => settle(e));
    worker.once('exit', (code) =>
      settle(
        aborted
          ? stopped()
          : new Error(`the worker unpacking '${name}' stopped (exit code ${code}) before it finished`),
      ),
    );
  });
}
