// What the patch pipeline computes for one (epoch, index): the sampler's patch (a pure function of the
// run's seed, the epoch and the index), then the per-patch preparation. Run in the pipeline's worker
// threads or, without workers, in the training thread: the same patches either way.
import type { WorkerError } from '../util/worker.js';
import type { OutputLayout } from '../losses/layout.js';
import { createSampler, type Sampler, type SampleCase } from './sampler.js';
import type { SamplerConfig } from './sampler-options.js';
import { preparePatch, type PreparedPatch } from './prepared.js';
import { AUGMENT_STREAM, augmentPatch, isIdentity, type Augmentation } from './augment.js';
import { mixSeed } from './sampler.js';

/** Everything a worker needs to make the run's patches (structured-cloneable; case arrays may be shared). */
export interface PipelineSpec {
  cases: SampleCase[];
  sampler: SamplerConfig;
  organs: number[];
  divisor: number;
  seed: number;
  perPatchMinMax: boolean;
  layout: OutputLayout;
  /** On-the-fly augmentation, seeded by (seed, epoch, index) like the sampler (absent or all off: none). */
  augmentation?: Augmentation;
}

export type PipelineRequest = { type: 'make'; epoch: number; index: number };
export type PipelineReply =
  | { type: 'patch'; epoch: number; index: number; patch: PreparedPatch | null }
  | { type: 'error'; epoch: number; index: number; error: WorkerError };

/** An array that is its own memory (never a view of shared memory), so that it can be transferred. */
const own = (a: Float32Array): Float32Array =>
  a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();

export class PatchMaker {
  readonly sampler: Sampler;
  constructor(readonly spec: PipelineSpec) {
    const { organs, divisor, seed } = spec;
    this.sampler = createSampler(spec.sampler, spec.cases, { organs, divisor, seed });
  }

  /** Patch `index` of `epoch`, prepared; null where the sampler skips it. */
  make(epoch: number, index: number): PreparedPatch | null {
    const cut = this.sampler.patch(epoch, index);
    if (!cut) return null;
    const aug = this.spec.augmentation;
    const p =
      aug && !isIdentity(aug) ? augmentPatch(cut, aug, mixSeed(this.spec.seed, epoch, index, AUGMENT_STREAM)) : cut;
    const prepared = preparePatch(p, this.spec);
    return { ...prepared, image: own(prepared.image), target: own(prepared.target) };
  }
}
