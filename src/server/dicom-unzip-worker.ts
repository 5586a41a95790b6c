// Worker-thread side of unpacking an uploaded DICOM zip: inflating a series of up to 4 × the upload
// limit takes seconds, which on the server's thread would stall every other request and the viewer.
import { parentPort, workerData } from 'node:worker_threads';
import { toWorkerError } from '../util/worker.js';
import { HttpError } from './http.js';
import { unpackDicomZip, type UnzipOutcome } from './dicom-upload.js';

if (!parentPort) throw new Error('dicom-unzip-worker.ts runs in a worker thread (started by unpackDicomZipOffThread)');
const parent = parentPort;

const { zipPath, into, limitBytes, name } = workerData as {
  zipPath: string;
  into: string;
  limitBytes: number;
  name: string;
};
let outcome: UnzipOutcome;
try {
  unpackDicomZip(zipPath, into, limitBytes, name);
  outcome = { ok: true };
} catch (e) {
  outcome =
    e instanceof HttpError
      ? { ok: false, status: e.status, message: e.message }
      : { ok: false, error: toWorkerError(e) };
}
parent.postMessage(outcome);
