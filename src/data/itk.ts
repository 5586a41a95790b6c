// itk-wasm's readers and writers, run in one worker thread per process (./itk-worker.ts)
// so that the console noise itk-wasm prints on failure is dropped there, without
// swapping this thread's console across an await (two concurrent reads would restore
// the wrong one). The worker starts on first use and does not keep the process alive
// when idle; if it dies, the calls in flight fail and the next call starts a new one.
import type { Worker } from 'node:worker_threads';
import type { Image, JsonCompatible } from 'itk-wasm';
import { startWorker } from '../util/worker.js';
import type { ItkJob, ItkReply, ItkRequest } from './itk-worker.js';

/** What itk-wasm threw, with what ITK printed meanwhile (its own account of the failure). */
export class ItkFailure extends Error {
  override name = 'ItkFailure';
  constructor(
    message: string,
    /** itk-wasm threw a bare C++ exception (a number), which it cannot describe. */
    readonly exception: boolean,
    /** ITK's messages, one per line (e.g. "MetaImage: M_ReadElementsData: data not read completely"). */
    readonly output: string[] = [],
  ) {
    super(message);
  }
}

type Done = Extract<ItkReply, { ok: true }>;
type Pending = { resolve: (reply: Done) => void; reject: (e: Error) => void };

class ItkWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  dead = false;

  constructor() {
    const entry = new URL(`./itk-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    this.worker = startWorker(entry, {});
    this.worker.unref();
    this.worker.on('message', (m: ItkReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.pending.size) this.worker.unref();
      if (m.ok) p.resolve(m);
      else if (typeof m.thrown === 'number') p.reject(new ItkFailure(`ITK exception ${m.thrown}`, true, m.output));
      else p.reject(new ItkFailure(m.thrown, false, m.output));
    });
    const die = (e: Error) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e: Error) => die(new Error(`the ITK worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => die(new Error(`the ITK worker stopped (exit code ${code})`)));
  }

  async call(job: ItkJob): Promise<Image | null> {
    return (await this.reply(job)).image;
  }

  /** The whole reply: the image and what came with it (a SEG's metaInfo). */
  reply(job: ItkJob): Promise<Done> {
    return new Promise((resolve, reject) => {
      const id = this.next++;
      if (!this.pending.size) this.worker.ref(); // a call in flight keeps the process alive
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...job, id } satisfies ItkRequest);
    });
  }
}

let shared: ItkWorker | null = null;
const itk = (): ItkWorker => (shared && !shared.dead ? shared : (shared = new ItkWorker()));

/** itk-wasm's readImageNode, quietly. Rejects with an `ItkFailure` (or an Error if the worker died). */
export async function itkRead(path: string): Promise<Image> {
  return (await itk().call({ op: 'read', path })) as Image;
}

/** itk-wasm's writeImageNode, quietly (`image.data` is copied to the worker). Rejects as `itkRead` does. */
export async function itkWrite(image: Image, path: string, useCompression: boolean): Promise<void> {
  await itk().call({ op: 'write', path, image, useCompression });
}

/** A DICOM series (files sorted along the slice normal) read by itk-wasm's GDCM reader, quietly. */
export async function itkReadDicomSeries(files: string[]): Promise<Image> {
  return (await itk().call({ op: 'readDicomSeries', files })) as Image;
}

/**
 * Writes a DICOM Segmentation object with itk-wasm's dcmqi (writeSegmentationNode), quietly: `image` holds
 * segment numbers 1..n (0: none) on the grid of `files`, the source series, every slice of which is encoded.
 * dcmqi packs frames that do not fill whole bytes wrongly: ./dicom-seg.ts packs PixelData again.
 */
export async function itkWriteDicomSeg(
  image: Image,
  metaInfo: JsonCompatible,
  files: string[],
  path: string,
): Promise<void> {
  await itk().call({ op: 'writeDicomSeg', path, image, metaInfo, files });
}

/**
 * A DICOM SEG read by itk-wasm's dcmqi, quietly: its segments as an image and dcmqi's metaInfo. By default
 * with readOverlappingSegmentationNode (one component per group of non-overlapping segments: never refused);
 * `overlapping: false`, readSegmentationNode (one scalar image of segment numbers; refused when dcmqi finds
 * segments that overlap).
 */
export async function itkReadDicomSeg(
  path: string,
  { overlapping = true }: { overlapping?: boolean } = {},
): Promise<{ image: Image; metaInfo: JsonCompatible }> {
  const r = await itk().reply({ op: 'readDicomSeg', path, overlapping });
  return { image: r.image as Image, metaInfo: r.metaInfo ?? {} };
}
