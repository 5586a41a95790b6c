// The patch pipeline: patches are cut and prepared ahead of the training step in worker threads
// (pipeline-worker.ts), `prefetch` patches ahead of the one asked for, over a bounded window. Patches
// come back in the order asked, and each is a pure function of (seed, epoch, index), so the sequence is
// the one a single thread makes. With no workers, patches are made in the calling thread, on demand.
// The training cases live in shared memory: every worker reads the same arrays.
import { Worker } from 'node:worker_threads';
import { ComboSegError } from '../engine/errors.js';
import { fromWorkerError, startWorker } from '../util/worker.js';
import { PatchMaker, type PipelineReply, type PipelineSpec } from './patch-maker.js';
import type { PreparedPatch } from './prepared.js';
import type { SampleCase } from './sampler.js';
import type { VoxelArray } from './volume.js';

export interface PipelineOptions {
  /** Worker threads (0: patches are made in the calling thread when asked for). */
  workers: number;
  /** Patches requested ahead of the one being consumed. */
  prefetch: number;
}

type Pending = { resolve: (p: PreparedPatch | null) => void; reject: (e: Error) => void };
type Slot = { promise: Promise<PreparedPatch | null>; pending: Pending };

/** A copy of a typed array in shared memory (a view of it, of the same type). */
function shared<T extends VoxelArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const out = new ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

/** Cases whose arrays are in shared memory, so that workers read them without copies. */
export function sharedCases(cases: SampleCase[]): SampleCase[] {
  return cases.map((c) => ({ ...c, image: shared(c.image), labels: shared(c.labels) }));
}

export class PatchPipeline {
  readonly #local: PatchMaker | null;
  readonly #workers: Worker[] = [];
  readonly #slots = new Map<string, Slot>();
  #failure: Error | null = null;
  #closing = false;
  /** Seconds the consumer waited for a patch that was not ready. */
  waitedSeconds = 0;

  constructor(
    spec: PipelineSpec,
    readonly epochLength: number,
    readonly o: PipelineOptions,
  ) {
    this.#local = o.workers === 0 ? new PatchMaker(spec) : null;
    if (o.workers === 0) return;
    const entry = new URL(`./pipeline-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    const data = { ...spec, cases: sharedCases(spec.cases) };
    for (let w = 0; w < o.workers; w++) {
      const worker = startWorker(entry, data);
      worker.on('message', (m: PipelineReply) => this.#settle(m));
      worker.on('error', (e) => this.#fail(e));
      worker.on('exit', (code) => {
        if (code !== 0 && !this.#closing) {
          this.#fail(new ComboSegError(`data pipeline: worker ${w} exited with code ${code}`));
        }
      });
      this.#workers.push(worker);
    }
  }

  /** Patch `index` of `epoch` (null where the sampler skips one); asks for the next ones meanwhile. */
  async patch(epoch: number, index: number): Promise<PreparedPatch | null> {
    if (this.#local) {
      const began = performance.now(); // made on demand: the step waits for all of it
      try {
        return this.#local.make(epoch, index);
      } finally {
        this.waitedSeconds += (performance.now() - began) / 1000;
      }
    }
    for (let k = 0; k <= this.o.prefetch; k++) {
      const at = index + k;
      if (at >= this.epochLength) this.#request(epoch + 1, at - this.epochLength);
      else this.#request(epoch, at);
    }
    const key = `${epoch}:${index}`;
    const slot = this.#slots.get(key) as Slot;
    const began = performance.now();
    try {
      return await slot.promise;
    } finally {
      this.waitedSeconds += (performance.now() - began) / 1000;
      this.#slots.delete(key);
    }
  }

  /** Stops the workers; patches still being made are dropped. */
  async close(): Promise<void> {
    this.#closing = true;
    // Asked first, so that a worker finishes the patch it is reading (its file closed); terminated after 2 s.
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => void w.terminate(), 2000);
            w.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            w.postMessage({ type: 'close' });
          }),
      ),
    );
    this.#workers.length = 0;
  }

  #request(epoch: number, index: number): void {
    const key = `${epoch}:${index}`;
    if (this.#slots.has(key) || index >= this.epochLength) return;
    let pending: Pending = { resolve: () => undefined, reject: () => undefined };
    const promise = new Promise<PreparedPatch | null>((resolve, reject) => (pending = { resolve, reject }));
    promise.catch(() => undefined); // a prefetched patch nobody asks for must not be an unhandled rejection
    this.#slots.set(key, { promise, pending });
    if (this.#failure) {
      pending.reject(this.#failure);
      return;
    }
    this.#workers[(epoch * this.epochLength + index) % this.#workers.length].postMessage({
      type: 'make',
      epoch,
      index,
    });
  }

  #settle(m: PipelineReply): void {
    const slot = this.#slots.get(`${m.epoch}:${m.index}`);
    if (!slot) return;
    if (m.type === 'patch') slot.pending.resolve(m.patch);
    else slot.pending.reject(fromWorkerError(m.error));
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const slot of this.#slots.values()) slot.pending.reject(e);
  }
}
