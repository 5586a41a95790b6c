// Worker-thread side of ./itk.ts: runs itk-wasm's image readers and writers, one at a
// time. itk-wasm prints to the console, with no option to stay quiet: each pipeline's
// print hooks echo ITK's own messages ("MetaImage: data not read completely"), and a
// failure adds "Exception while running pipeline", "stdout:", "stderr:"... This thread
// does nothing else, so its console is replaced once, at start, and never swapped back
// (the main thread's console is never touched): what a job prints is kept with that
// job. A failure sends ITK's messages back with the error instead of printing them; a
// success lets them through (warnings), without itk-wasm's own failure banner.
import { parentPort } from 'node:worker_threads';
import { format } from 'node:util';
import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import {
  readImageDicomFileSeriesNode,
  readOverlappingSegmentationNode,
  readSegmentationNode,
  writeSegmentationNode,
} from '@itk-wasm/dicom';
import type { Image, JsonCompatible } from 'itk-wasm';

export type ItkJob =
  | { op: 'read'; path: string }
  | { op: 'write'; path: string; image: Image; useCompression: boolean }
  /** One DICOM series, its files already sorted along the slice normal (src/data/dicom.ts). */
  | { op: 'readDicomSeries'; files: string[] }
  /** A DICOM SEG (dcmqi): a label map of segment numbers 1..n, dcmqi's metaInfo, the source series' files. */
  | { op: 'writeDicomSeg'; path: string; image: Image; metaInfo: JsonCompatible; files: string[] }
  /**
   * A DICOM SEG read back: its segments as an image (the reply's image; `overlapping`: one component per
   * group of non-overlapping segments, else one scalar image, an error when segments overlap) and dcmqi's metaInfo.
   */
  | { op: 'readDicomSeg'; path: string; overlapping: boolean };
export type ItkRequest = ItkJob & { id: number };

/**
 * `thrown` is what itk-wasm threw: a number (a C++ exception it cannot describe) or an
 * error's message; `output` is what ITK printed meanwhile.
 */
export type ItkReply =
  | { id: number; ok: true; image: Image | null; metaInfo?: JsonCompatible }
  | { id: number; ok: false; thrown: number | string; output: string[] };

const ITK_NOISE = /^(Exception while running pipeline|stdout:|stderr:|exception:|Build module in Debug mode)/;
const real = { log: console.log.bind(console), error: console.error.bind(console), warn: console.warn.bind(console) };
let printed: { stream: 'log' | 'error' | 'warn'; text: string }[] = [];
/** Jobs whose output on success is progress (dcmqi prints a line per slice), not warnings: dropped. */
const QUIET_ON_SUCCESS: ReadonlySet<ItkJob['op']> = new Set(['writeDicomSeg', 'readDicomSeg']);
for (const stream of ['log', 'error', 'warn'] as const) {
  console[stream] = (...a: unknown[]) => {
    const text = format(...a);
    if (!ITK_NOISE.test(text)) printed.push({ stream, text });
  };
}

async function run(job: Exclude<ItkJob, { op: 'readDicomSeg' }>): Promise<Image | null> {
  if (job.op === 'read') return readImageNode(job.path);
  if (job.op === 'readDicomSeries') {
    return (await readImageDicomFileSeriesNode({ inputImages: job.files, singleSortedSeries: true })).outputImage;
  }
  if (job.op === 'writeDicomSeg') {
    // Every slice encoded (no --skip-empty-slices), so the SEG references every source instance.
    const options = { refDicomSeries: job.files, skipEmptySlices: false, useLabelidAsSegmentnumber: true };
    await writeSegmentationNode(job.image, job.metaInfo, job.path, options);
    return null;
  }
  await writeImageNode(job.image, job.path, { useCompression: job.useCompression });
  return null;
}

/** A job's image and what came with it (readDicomSeg: dcmqi's metaInfo). */
async function runJob(job: ItkJob): Promise<{ image: Image | null; metaInfo?: JsonCompatible }> {
  if (job.op === 'readDicomSeg') {
    const r = await (job.overlapping ? readOverlappingSegmentationNode : readSegmentationNode)(job.path);
    return { image: r.segImage, metaInfo: r.metaInfo };
  }
  return { image: await run(job) };
}

const port = parentPort;
if (!port) throw new Error('itk-worker.ts runs in a worker thread (started by ./itk.ts), not on its own');
let queue = Promise.resolve();
port.on('message', (m: ItkRequest) => {
  queue = queue.then(async () => {
    printed = [];
    try {
      // Image data comes out of the wasm heap into a SharedArrayBuffer: posting it shares, never copies.
      const { image, metaInfo } = await runJob(m);
      if (!QUIET_ON_SUCCESS.has(m.op)) for (const p of printed) real[p.stream](p.text);
      port.postMessage({
        id: m.id,
        ok: true,
        image,
        ...(metaInfo !== undefined ? { metaInfo } : {}),
      } satisfies ItkReply);
    } catch (e) {
      const thrown = typeof e === 'number' ? e : e instanceof Error ? e.message : String(e);
      const output = printed
        .flatMap((p) => p.text.split('\n'))
        .map((l) => l.trim())
        .filter(Boolean);
      port.postMessage({ id: m.id, ok: false, thrown, output } satisfies ItkReply);
    }
  });
});
