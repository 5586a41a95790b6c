// Training samplers. Each is a pure function of (seed, epoch, index): the same
// seed gives the same patches, and a run resumes at any position without
// replaying the ones before. Patches are cut lazily, one at a time.
//
// - PaperSampler (the paper, §II): per volume, `perOrgan` sub-volumes containing
//   each organ present in it, plus `background` sub-volumes containing no organ,
//   in a shuffled order; the volume is padded where a patch crosses its border.
// - RatioSampler (MONAI's RandCropByPosNegLabel): `samplesPerCase` patches per
//   volume, centred on a foreground voxel with probability pos / (pos + neg),
//   otherwise on a background voxel.
// - WholeVolumeSampler: each volume whole, padded up to a multiple of `divisor`.
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import { extractChannelsPatch, extractPatch, type Patch } from './crop.js';
import type { Vec3, VoxelArray } from './volume.js';
import type { SamplerConfig } from './sampler-options.js';
import { readImageBox, type ImageFile } from './image-file.js';

/** A training case in memory: normalised image and label map on one grid. */
export interface SampleCase {
  id: string;
  /** Normalised image; with several channels, channel-major [C, z, y, x] (../data/volume.ts). */
  image: Float32Array;
  /** Image channels (absent: 1); patches carry them all. */
  channels?: number;
  labels: VoxelArray;
  size: Vec3;
  /** The image on disk instead (a preprocessed case, case-cache.ts): `image` is then empty. */
  source?: ImageFile;
}

/** The box [start, start + patch) of a case's image, from memory or its file; 0 outside the volume. */
function cutImage(c: SampleCase, start: Vec3, patch: Vec3): Float32Array {
  const channels = c.channels ?? 1;
  if (c.source) return readImageBox(c.source.path, c.size, channels, c.source.normalisation, start, patch);
  return extractChannelsPatch(c.image, channels, c.size, start, patch, 0);
}

export interface Sampler {
  /** Patches in one epoch (an upper bound for PaperSampler: impossible background patches are skipped). */
  readonly epochLength: number;
  /** Patch `index` of `epoch`, or null if it cannot exist (a background patch in a volume full of organs). */
  patch(epoch: number, index: number): Patch | null;
}

/** Mixes integers into a seed (splitmix-style), so (seed, epoch, index) streams are independent. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Lazily built per-case indexes: voxel lists per label and a summed-volume table of foreground. */
class CaseIndex {
  #voxels = new Map<number, Int32Array>();
  #integral: Int32Array | null = null;
  constructor(readonly c: SampleCase) {
    const n = c.size[0] * c.size[1] * c.size[2],
      C = c.channels ?? 1;
    if ((!c.source && c.image.length !== C * n) || c.labels.length !== n) {
      const has = `${c.image.length} image values (${C} channel(s)) and ${c.labels.length} label voxels`;
      throw new ComboSegError(`sampler: case '${c.id}' has ${has} for size [${c.size}]`, {
        code: 'invalid-input',
        path: c.id,
      });
    }
  }
  /** Linear indices of voxels whose label is in `values` (0 alone: background). */
  voxels(key: number, match: (l: number) => boolean): Int32Array {
    let v = this.#voxels.get(key);
    if (!v) {
      const out: number[] = [];
      const L = this.c.labels;
      for (let i = 0; i < L.length; i++) if (match(L[i])) out.push(i);
      v = Int32Array.from(out);
      this.#voxels.set(key, v);
    }
    return v;
  }
  /** Foreground voxels in the box [s, s + p), clipped to the volume, in O(1). */
  foregroundIn(s: Vec3, p: Vec3): number {
    const [X, Y, Z] = this.c.size;
    if (!this.#integral) {
      const I = new Int32Array((X + 1) * (Y + 1) * (Z + 1));
      const at = (x: number, y: number, z: number) => (z * (Y + 1) + y) * (X + 1) + x;
      const L = this.c.labels;
      for (let z = 1; z <= Z; z++)
        for (let y = 1; y <= Y; y++)
          for (let x = 1; x <= X; x++) {
            const fg = L[((z - 1) * Y + (y - 1)) * X + (x - 1)] > 0 ? 1 : 0;
            I[at(x, y, z)] =
              fg +
              I[at(x - 1, y, z)] +
              I[at(x, y - 1, z)] +
              I[at(x, y, z - 1)] -
              I[at(x - 1, y - 1, z)] -
              I[at(x - 1, y, z - 1)] -
              I[at(x, y - 1, z - 1)] +
              I[at(x - 1, y - 1, z - 1)];
          }
      this.#integral = I;
    }
    const I = this.#integral;
    const at = (x: number, y: number, z: number) => (z * (Y + 1) + y) * (X + 1) + x;
    const clip = (v: number, n: number) => Math.max(0, Math.min(n, v));
    const [x0, y0, z0] = [clip(s[0], X), clip(s[1], Y), clip(s[2], Z)];
    const [x1, y1, z1] = [clip(s[0] + p[0], X), clip(s[1] + p[1], Y), clip(s[2] + p[2], Z)];
    return (
      I[at(x1, y1, z1)] -
      I[at(x0, y1, z1)] -
      I[at(x1, y0, z1)] -
      I[at(x1, y1, z0)] +
      I[at(x0, y0, z1)] +
      I[at(x0, y1, z0)] +
      I[at(x1, y0, z0)] -
      I[at(x0, y0, z0)]
    );
  }
  cut(start: Vec3, patch: Vec3): { image: Float32Array; channels: number; labels: VoxelArray } {
    const channels = this.c.channels ?? 1;
    return {
      image: cutImage(this.c, start, patch),
      channels,
      labels: extractPatch(this.c.labels, this.c.size, start, patch, 0),
    };
  }
}

/** `p` is typed as a Vec3 but may come unchecked from JavaScript or JSON: its length is checked too. */
function checkPatchSize(p: readonly number[]): void {
  if (p.length !== 3 || p.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ComboSegError(`sampler: patchSize must be 3 positive integers (x, y, z), got [${p}]`, {
      code: 'invalid-option',
      path: 'sampler.patchSize',
    });
  }
}

/** A corner such that the patch contains voxel `v` (uniform over all such corners). */
function cornerAround(rng: Rng, v: Vec3, p: Vec3): Vec3 {
  return [0, 1, 2].map((i) => v[i] - rng.int(p[i])) as Vec3;
}

function coords(i: number, size: Vec3): Vec3 {
  const x = i % size[0],
    y = Math.floor(i / size[0]) % size[1],
    z = Math.floor(i / (size[0] * size[1]));
  return [x, y, z];
}

/** Deterministic Fisher–Yates shuffle. */
function shuffled<T>(items: T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface PaperSamplerOptions {
  /** Patch size (x, y, z); the paper uses 80³. */
  patchSize: Vec3;
  /** Organ label values (channel order). */
  organs: number[];
  /** Patches containing each organ, per volume (the paper: 100). */
  perOrgan: number;
  /** Background-only patches per volume (the paper: 100). */
  background: number;
  seed: number;
}

export class PaperSampler implements Sampler {
  readonly #cases: CaseIndex[];
  readonly #slots: { c: number; organ: number | null }[] = [];
  /** Background patches that could not be placed (volume has no organ-free box of that size). */
  backgroundMisses = 0;

  constructor(
    cases: SampleCase[],
    readonly options: PaperSamplerOptions,
  ) {
    checkPatchSize(options.patchSize);
    if (!cases.length) throw new ComboSegError('sampler: no training cases', { code: 'invalid-input' });
    this.#cases = cases.map((c) => new CaseIndex(c));
    this.#cases.forEach((ci, c) => {
      const present = new Set<number>();
      for (const l of ci.c.labels) present.add(l);
      for (const organ of options.organs)
        if (present.has(organ)) for (let k = 0; k < options.perOrgan; k++) this.#slots.push({ c, organ });
      for (let k = 0; k < options.background; k++) this.#slots.push({ c, organ: null });
    });
  }

  get epochLength(): number {
    return this.#slots.length;
  }

  #order = new Map<number, { c: number; organ: number | null }[]>();
  #epochOrder(epoch: number) {
    let o = this.#order.get(epoch);
    if (!o) {
      o = shuffled(this.#slots, new Rng(mixSeed(this.options.seed, epoch)));
      this.#order.clear();
      this.#order.set(epoch, o);
    }
    return o;
  }

  patch(epoch: number, index: number): Patch | null {
    const order = this.#epochOrder(epoch);
    if (!Number.isInteger(index) || index < 0 || index >= order.length) {
      throw new ComboSegError(`sampler: index ${index} is past the epoch (${this.epochLength} patches)`, {
        code: 'invalid-option',
        path: 'index',
      });
    }
    const slot = order[index];
    const rng = new Rng(mixSeed(this.options.seed, epoch, index));
    const ci = this.#cases[slot.c];
    const p = this.options.patchSize;
    if (slot.organ !== null) {
      const organ = slot.organ;
      const voxels = ci.voxels(organ, (l) => l === organ);
      const start = cornerAround(rng, coords(voxels[rng.int(voxels.length)], ci.c.size), p);
      return { caseId: ci.c.id, ...ci.cut(start, p), size: [...p], start, kind: 'organ', organ };
    }
    const size = ci.c.size;
    for (let attempt = 0; attempt < 64; attempt++) {
      // Inside the volume where it is large enough, padded where it is not.
      const start = [0, 1, 2].map((i) =>
        size[i] >= p[i] ? rng.int(size[i] - p[i] + 1) : -rng.int(p[i] - size[i] + 1),
      ) as Vec3;
      if (ci.foregroundIn(start, p) === 0)
        return { caseId: ci.c.id, ...ci.cut(start, p), size: [...p], start, kind: 'background' };
    }
    this.backgroundMisses++;
    return null;
  }

  /** The patches of an epoch from `from` on, cut as they are asked for. */
  *epoch(epoch: number, from = 0): Generator<Patch> {
    for (let i = from; i < this.epochLength; i++) {
      const p = this.patch(epoch, i);
      if (p) yield p;
    }
  }
}

export interface RatioSamplerOptions {
  patchSize: Vec3;
  /** Relative weight of patches centred on foreground. Default 1. */
  pos: number;
  /** Relative weight of patches centred on background. Default 1. */
  neg: number;
  samplesPerCase: number;
  seed: number;
}

export class RatioSampler implements Sampler {
  readonly #cases: CaseIndex[];
  constructor(
    cases: SampleCase[],
    readonly options: RatioSamplerOptions,
  ) {
    checkPatchSize(options.patchSize);
    if (!(options.pos >= 0 && options.neg >= 0 && options.pos + options.neg > 0)) {
      throw new ComboSegError('sampler: pos and neg must be ≥ 0, not both 0', {
        code: 'invalid-option',
        path: 'sampler.pos',
      });
    }
    this.#cases = cases.map((c) => new CaseIndex(c));
  }
  get epochLength(): number {
    return this.#cases.length * this.options.samplesPerCase;
  }
  patch(epoch: number, index: number): Patch {
    const rng = new Rng(mixSeed(this.options.seed, epoch, index));
    const ci = this.#cases[Math.floor(index / this.options.samplesPerCase) % this.#cases.length];
    const fg = ci.voxels(-1, (l) => l > 0),
      bg = ci.voxels(0, (l) => l === 0);
    let positive = rng.next() < this.options.pos / (this.options.pos + this.options.neg);
    if (positive && !fg.length) positive = false;
    const pool = positive ? fg : bg.length ? bg : fg;
    const p = this.options.patchSize;
    const c = coords(pool[rng.int(pool.length)], ci.c.size);
    const start = [0, 1, 2].map((i) => c[i] - Math.floor(p[i] / 2)) as Vec3;
    return { caseId: ci.c.id, ...ci.cut(start, p), size: [...p], start, kind: positive ? 'positive' : 'negative' };
  }
}

export class WholeVolumeSampler implements Sampler {
  constructor(
    readonly cases: SampleCase[],
    readonly divisor = 16,
  ) {}
  get epochLength(): number {
    return this.cases.length;
  }
  /** Volume `index` whole, padded at the far end up to a multiple of `divisor`; the order is shuffled per epoch. */
  patch(epoch: number, index: number): Patch {
    const order = shuffled(
      this.cases.map((_, i) => i),
      new Rng(mixSeed(epoch, 7)),
    );
    const c = this.cases[order[index]];
    const size = c.size.map((s) => Math.ceil(s / this.divisor) * this.divisor) as Vec3;
    const start: Vec3 = [0, 0, 0];
    return {
      caseId: c.id,
      image: cutImage(c, start, size),
      channels: c.channels ?? 1,
      labels: extractPatch(c.labels, c.size, start, size, 0),
      size,
      start,
      kind: 'whole',
    };
  }
}

/** The sampler a configuration names (src/data/sampler-options.ts), over `cases`. */
export function createSampler(
  s: SamplerConfig,
  cases: SampleCase[],
  o: { organs: number[]; divisor: number; seed: number },
): Sampler {
  const { organs, seed } = o;
  if (s.kind === 'paper') {
    return new PaperSampler(cases, {
      patchSize: s.patchSize,
      organs,
      perOrgan: s.perOrgan,
      background: s.background,
      seed,
    });
  }
  if (s.kind === 'ratio') {
    const { patchSize, pos, neg, samplesPerCase } = s;
    return new RatioSampler(cases, { patchSize, pos, neg, samplesPerCase, seed });
  }
  return new WholeVolumeSampler(cases, o.divisor);
}
