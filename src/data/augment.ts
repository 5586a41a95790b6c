// On-the-fly augmentation of training patches: mirroring, 90° turns in the x-y plane, a small
// rotation and scaling about the patch centre, intensity scale and shift, gamma and Gaussian noise,
// each applied with its own probability. Everything is off by default (the paper used none).
//
// Like the samplers, an augmented patch is a pure function of (patch, options, seed): the caller
// passes mixSeed(runSeed, epoch, index, AUGMENT_STREAM) (./sampler.ts), so a run that resumes at
// any index augments its patches as the uninterrupted run did. Each transform draws from its own
// sub-stream of the seed, so switching one transform on or off leaves the draws of the others alone.
//
// Order (nnU-Net's): one spatial pass (mirror, 90° turn and affine composed into one inverse map,
// image trilinear and labels nearest-neighbour), then noise, intensity scale/shift, gamma. The
// spatial transform is the same for every channel; the intensity ones act on the image only.
//
// This module is plain loops over typed arrays and does not load the libtorch addon (it imports no
// engine code), so it runs in data worker threads.
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import type { Patch } from './crop.js';
import type { Vec3, VoxelArray } from './volume.js';

/** The last argument of mixSeed(runSeed, epoch, index, AUGMENT_STREAM): the augmentation's own stream. */
export const AUGMENT_STREAM = 0x61756721; // 'aug!'

const prob = z.number().min(0).max(1).default(0);

/** A range [lo, hi] of numbers in [min, max] with lo ≤ hi. */
function range(min: number, max: number, dflt: [number, number]) {
  const n = z.number().min(min).max(max);
  return z
    .tuple([n, n])
    .refine(([lo, hi]) => lo <= hi, { message: 'must be [lo, hi] with lo ≤ hi' })
    .default(dflt);
}

const degrees = z.number().min(0).max(180);

export const AugmentationSchema = z
  .object({
    flip: z
      .object({
        p: prob.describe('probability of mirroring, drawn for each axis in `axes` on its own (nnU-Net: 0.5)'),
        axes: z
          .array(z.enum(['x', 'y', 'z']))
          .min(1)
          .default(['x', 'y', 'z'])
          .describe('axes that may be mirrored'),
      })
      .strict()
      .default({})
      .describe('mirroring'),
    rotate90: z
      .object({
        p: prob.describe('probability of a turn by k·90° in the x-y plane, k ∈ {1, 2, 3} (only 2 if x ≠ y)'),
      })
      .strict()
      .default({})
      .describe('90° turns in the x-y plane'),
    affine: z
      .object({
        p: prob.describe('probability of a rotation and scaling about the patch centre (nnU-Net: 0.2 each)'),
        scale: range(0.1, 10, [0.85, 1.25]).describe(
          'range of the factor on the sampling coordinates, as batchgenerators: > 1 shows more, content smaller',
        ),
        rotateDegrees: z
          .union([degrees, z.tuple([degrees, degrees, degrees])])
          .transform((v): Vec3 => (typeof v === 'number' ? [v, v, v] : v))
          .default(15)
          .describe('largest |angle| about each axis, degrees; one number or [x, y, z] (nnU-Net v1: 15)'),
      })
      .strict()
      .default({})
      .describe('rotation and scaling, in voxel units; image trilinear, labels nearest'),
    intensity: z
      .object({
        p: prob.describe('probability of x·s + t on the image, s and t drawn per channel'),
        scale: range(0, 100, [0.75, 1.25]).describe('range of s (nnU-Net brightness: [0.75, 1.25])'),
        shift: range(-100, 100, [-0.1, 0.1]).describe('range of t, in normalised units'),
      })
      .strict()
      .default({})
      .describe('intensity scale and shift'),
    gamma: z
      .object({
        p: prob.describe('probability of gamma: each channel to [0, 1], x^γ, back (nnU-Net: 0.3)'),
        range: range(0.01, 100, [0.7, 1.5]).describe('range of γ; below 1 half the time when it straddles 1'),
      })
      .strict()
      .default({})
      .describe('gamma'),
    noise: z
      .object({
        p: prob.describe('probability of adding Gaussian noise to the image (nnU-Net: 0.1)'),
        std: range(0, 100, [0, 0.1]).describe('range of the noise standard deviation, one per patch'),
      })
      .strict()
      .default({})
      .describe('Gaussian noise'),
  })
  .strict()
  .default({})
  .describe('training-patch augmentation; every transform is off (p = 0) by default');
export type Augmentation = z.output<typeof AugmentationSchema>;

/** True when no transform can fire (every p is 0): callers can skip augmentation. */
export function isIdentity(o: Augmentation): boolean {
  return [o.flip.p, o.rotate90.p, o.affine.p, o.intensity.p, o.gamma.p, o.noise.p].every((p) => p === 0);
}

/** What one augmentation drew: everything `applyAugmentation` needs, nothing random left. */
export interface AugmentationDraw {
  /** Mirror along x, y, z. */
  flip: [boolean, boolean, boolean];
  /** Quarter turns in the x-y plane: voxel (x, y) goes to (c − (y − c), c + (x − c)) for k = 1. */
  rotate90: 0 | 1 | 2 | 3;
  /** Factor on the sampling coordinates and angles about x, y, z in radians (forward R = Rz·Ry·Rx); null: none. */
  affine: { scale: number; radians: Vec3 } | null;
  /** Standard deviation and the seed of the noise; null: none. */
  noise: { std: number; seed: number } | null;
  /** x·scale[c] + shift[c] per channel; null: none. */
  intensity: { scale: number[]; shift: number[] } | null;
  /** γ per channel; null: none. */
  gamma: number[] | null;
}

/** γ as nnU-Net draws it: below 1 half the time when the range straddles 1, so darkening and brightening balance. */
function drawGamma(rng: Rng, [lo, hi]: [number, number]): number {
  const below = lo < 1 && (hi <= 1 || rng.next() < 0.5);
  return below ? rng.uniform(lo, Math.min(hi, 1)) : rng.uniform(Math.max(lo, 1), hi);
}

/** The random choices of one augmentation of a patch of `size` with `channels` image channels. */
export function drawAugmentation(o: Augmentation, size: Vec3, channels: number, seed: number): AugmentationDraw {
  const root = new Rng(seed);
  const [rFlip, rTurn, rAffine, rNoise, rIntensity, rGamma] = Array.from({ length: 6 }, () => root.fork());
  const draw: AugmentationDraw = {
    flip: [false, false, false],
    rotate90: 0,
    affine: null,
    noise: null,
    intensity: null,
    gamma: null,
  };
  (['x', 'y', 'z'] as const).forEach((a, i) => {
    if (rFlip.next() < o.flip.p && o.flip.axes.includes(a)) draw.flip[i] = true;
  });
  if (rTurn.next() < o.rotate90.p) draw.rotate90 = size[0] === size[1] ? ((1 + rTurn.int(3)) as 1 | 2 | 3) : 2;
  if (rAffine.next() < o.affine.p) {
    const scale = rAffine.uniform(o.affine.scale[0], o.affine.scale[1]);
    const radians = o.affine.rotateDegrees.map((d) => (rAffine.uniform(-d, d) * Math.PI) / 180) as Vec3;
    draw.affine = { scale, radians };
  }
  if (rNoise.next() < o.noise.p) {
    draw.noise = { std: rNoise.uniform(o.noise.std[0], o.noise.std[1]), seed: Math.floor(rNoise.next() * 2 ** 32) };
  }
  if (rIntensity.next() < o.intensity.p) {
    const scale: number[] = [],
      shift: number[] = [];
    for (let c = 0; c < channels; c++) {
      scale.push(rIntensity.uniform(o.intensity.scale[0], o.intensity.scale[1]));
      shift.push(rIntensity.uniform(o.intensity.shift[0], o.intensity.shift[1]));
    }
    draw.intensity = { scale, shift };
  }
  if (rGamma.next() < o.gamma.p) draw.gamma = Array.from({ length: channels }, () => drawGamma(rGamma, o.gamma.range));
  return draw;
}

type Mat3 = number[]; // row-major 3×3

function mul(a: Mat3, b: Mat3): Mat3 {
  const m: Mat3 = [];
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) m.push(a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c]);
  return m;
}

function rotation(axis: 0 | 1 | 2, t: number): Mat3 {
  const c = Math.cos(t),
    s = Math.sin(t);
  if (axis === 0) return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 1) return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

const TURNS: Mat3[] = [
  [1, 0, 0, 0, 1, 0, 0, 0, 1],
  [0, -1, 0, 1, 0, 0, 0, 0, 1],
  [-1, 0, 0, 0, -1, 0, 0, 0, 1],
  [0, 1, 0, -1, 0, 0, 0, 0, 1],
];

/**
 * The inverse map (output voxel → input point, about the centre) of a draw's spatial part, or null
 * when it has none. Forward: mirror, then the turn, then the affine; entries within 1e-12 of an
 * integer are snapped to it, so 90° angles map grid points to grid points exactly.
 */
export function inverseMatrix(d: AugmentationDraw): number[] | null {
  if (!d.flip.some(Boolean) && d.rotate90 === 0 && !d.affine) return null;
  const F = [d.flip[0] ? -1 : 1, 0, 0, 0, d.flip[1] ? -1 : 1, 0, 0, 0, d.flip[2] ? -1 : 1];
  const Q = TURNS[d.rotate90];
  const Qt = [Q[0], Q[3], Q[6], Q[1], Q[4], Q[7], Q[2], Q[5], Q[8]];
  let m = mul(F, Qt);
  if (d.affine) {
    const { scale, radians } = d.affine;
    // (Rz·Ry·Rx)^T = Rx^T·Ry^T·Rz^T = Rx(−a)·Ry(−b)·Rz(−g); the scale multiplies the sampling coordinates.
    const Rt = mul(mul(rotation(0, -radians[0]), rotation(1, -radians[1])), rotation(2, -radians[2]));
    m = mul(
      m,
      Rt.map((v) => v * scale),
    );
  }
  return m.map((v) => (Math.abs(v - Math.round(v)) < 1e-12 ? Math.round(v) + 0 : v));
}

/** Whether `m` permutes the voxels (a signed permutation between axes of equal length). */
function isVoxelPermutation(m: Mat3, size: Vec3): boolean {
  for (let r = 0; r < 3; r++) {
    const row = m.slice(3 * r, 3 * r + 3);
    const j = row.findIndex((v) => v !== 0);
    if (row.filter((v) => v !== 0).length !== 1 || Math.abs(row[j]) !== 1 || size[r] !== size[j]) return false;
  }
  return true;
}

/** Exact gather for a signed permutation of the voxels (mirrors, turns, 90° affines). */
function permute<T extends VoxelArray>(src: T, channels: number, size: Vec3, m: Mat3): T {
  const [nx, ny, nz] = size,
    n = nx * ny * nz;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  // Input coordinate r of output o is c_r + Σ_j m_rj·(o_j − c_j): its index is base + x·dx + y·dy + z·dz.
  const strides = [1, nx, nx * ny],
    c = size.map((s) => (s - 1) / 2);
  const step = (j: number) => m[j] * strides[0] + m[3 + j] * strides[1] + m[6 + j] * strides[2];
  const [dx, dy, dz] = [step(0), step(1), step(2)];
  let base = 0;
  for (let r = 0; r < 3; r++) base += strides[r] * (c[r] - m[3 * r] * c[0] - m[3 * r + 1] * c[1] - m[3 * r + 2] * c[2]);
  for (let ch = 0; ch < channels; ch++) {
    const o = ch * n;
    for (let z = 0, i = o; z < nz; z++)
      for (let y = 0; y < ny; y++) {
        const b = o + base + y * dy + z * dz;
        for (let x = 0; x < nx; x++, i++) out[i] = src[b + x * dx];
      }
  }
  return out;
}

/** The smallest value of each channel: what points from outside the patch take. */
function channelMinima(image: Float32Array, channels: number, n: number): Float64Array {
  const out = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let lo = Infinity;
    for (let i = c * n, e = i + n; i < e; i++) if (image[i] < lo) lo = image[i];
    out[c] = lo;
  }
  return out;
}

/** Trilinear image and nearest label at a point near or across the patch border (the outside takes `fill`, 0). */
function sampleEdge(
  src: Float32Array,
  labels: VoxelArray,
  out: Float32Array,
  outLabels: VoxelArray,
  i: number,
  p: Vec3,
  size: Vec3,
  fill: Float64Array,
): void {
  const [nx, ny, nz] = size,
    n = nx * ny * nz;
  const f = [Math.floor(p[0]), Math.floor(p[1]), Math.floor(p[2])];
  const w = [p[0] - f[0], p[1] - f[1], p[2] - f[2]];
  const near = [0, 1, 2].map((a) => (w[a] < 0.5 ? f[a] : f[a] + 1));
  const inside = (x: number, y: number, z: number) => x >= 0 && x < nx && y >= 0 && y < ny && z >= 0 && z < nz;
  outLabels[i] = inside(near[0], near[1], near[2]) ? labels[(near[2] * ny + near[1]) * nx + near[0]] : 0;
  for (let c = 0; c < fill.length; c++) {
    let v = 0;
    for (let k = 0; k < 8; k++) {
      const x = f[0] + (k & 1),
        y = f[1] + ((k >> 1) & 1),
        z = f[2] + (k >> 2);
      const wk = (k & 1 ? w[0] : 1 - w[0]) * ((k >> 1) & 1 ? w[1] : 1 - w[1]) * (k >> 2 ? w[2] : 1 - w[2]);
      if (wk !== 0) v += wk * (inside(x, y, z) ? src[c * n + (z * ny + y) * nx + x] : fill[c]);
    }
    out[c * n + i] = v;
  }
}

/**
 * One pass over the output voxels through the inverse map `m` about the centre: the image trilinear
 * (every channel with the same weights), the labels nearest-neighbour; points from outside the patch
 * take each channel's minimum and label 0.
 */
function resample<L extends VoxelArray>(
  src: Float32Array,
  labels: L,
  channels: number,
  size: Vec3,
  m: Mat3,
): { image: Float32Array; labels: L } {
  const [nx, ny, nz] = size,
    nxy = nx * ny,
    n = nxy * nz;
  const fill = channelMinima(src, channels, n);
  const out = new Float32Array(src.length),
    outLabels = new (labels.constructor as new (n: number) => L)(n);
  const [cx, cy, cz] = size.map((s) => (s - 1) / 2);
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = m;
  const p: Vec3 = [0, 0, 0];
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      // The input point of (0, y, z); each step in x adds column 0 of m.
      const qx = cx - m0 * cx + m1 * (y - cy) + m2 * (z - cz),
        qy = cy - m3 * cx + m4 * (y - cy) + m5 * (z - cz),
        qz = cz - m6 * cx + m7 * (y - cy) + m8 * (z - cz);
      for (let x = 0; x < nx; x++, i++) {
        const px = qx + m0 * x,
          py = qy + m3 * x,
          pz = qz + m6 * x;
        const fx = Math.floor(px),
          fy = Math.floor(py),
          fz = Math.floor(pz);
        if (fx < 0 || fy < 0 || fz < 0 || fx >= nx - 1 || fy >= ny - 1 || fz >= nz - 1) {
          if (px <= -1 || py <= -1 || pz <= -1 || px >= nx || py >= ny || pz >= nz) {
            for (let c = 0; c < channels; c++) out[c * n + i] = fill[c];
          } else {
            p[0] = px;
            p[1] = py;
            p[2] = pz;
            sampleEdge(src, labels, out, outLabels, i, p, size, fill);
          }
          continue;
        }
        const wx = px - fx,
          wy = py - fy,
          wz = pz - fz;
        const j = (fz * ny + fy) * nx + fx;
        outLabels[i] = labels[j + (wx < 0.5 ? 0 : 1) + (wy < 0.5 ? 0 : nx) + (wz < 0.5 ? 0 : nxy)];
        const ux = 1 - wx,
          uy = 1 - wy,
          uz = 1 - wz;
        for (let c = 0, s = j; c < channels; c++, s += n) {
          const a = (src[s] * ux + src[s + 1] * wx) * uy + (src[s + nx] * ux + src[s + nx + 1] * wx) * wy;
          const t = s + nxy;
          const b = (src[t] * ux + src[t + 1] * wx) * uy + (src[t + nx] * ux + src[t + nx + 1] * wx) * wy;
          out[c * n + i] = a * uz + b * wz;
        }
      }
    }
  return { image: out, labels: outLabels };
}

/** Adds Gaussian noise of standard deviation `std` to every value (Box–Muller, both draws used). */
function addNoise(image: Float32Array, std: number, seed: number): void {
  const rng = new Rng(seed);
  for (let i = 0; i < image.length; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - rng.next())),
      t = 2 * Math.PI * rng.next();
    image[i] += r * Math.cos(t);
    if (i + 1 < image.length) image[i + 1] += r * Math.sin(t);
  }
}

/** Each channel to [0, 1] by its own minimum and maximum, raised to γ, and back (nnU-Net's gamma). */
function applyGamma(image: Float32Array, gamma: number[], n: number): void {
  gamma.forEach((g, c) => {
    const ch = image.subarray(c * n, (c + 1) * n);
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = ch[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const r = hi - lo;
    if (!(r > 0) || g === 1) return;
    // t^γ = exp(γ·ln t), 0 at t = 0.
    for (let i = 0; i < n; i++) {
      const t = (ch[i] - lo) / r;
      ch[i] = (t > 0 ? Math.exp(g * Math.log(t)) : 0) * r + lo;
    }
  });
}

/** A patch with a drawn augmentation applied: new arrays; the input patch is untouched. */
export function applyAugmentation(patch: Patch, d: AugmentationDraw): Patch {
  const C = patch.channels ?? 1,
    n = patch.size[0] * patch.size[1] * patch.size[2];
  if (patch.image.length !== C * n || patch.labels.length !== n) {
    const has = `${patch.image.length} image values (${C} channel(s)) and ${patch.labels.length} label voxels`;
    throw new ComboSegError(`augment: patch of case '${patch.caseId}' has ${has} for size [${patch.size}]`, {
      code: 'invalid-input',
    });
  }
  const m = inverseMatrix(d);
  let image: Float32Array, labels: VoxelArray;
  if (!m) {
    image = Float32Array.from(patch.image);
    labels = patch.labels.slice();
  } else if (isVoxelPermutation(m, patch.size)) {
    image = permute(patch.image, C, patch.size, m);
    labels = permute(patch.labels, 1, patch.size, m);
  } else {
    ({ image, labels } = resample(patch.image, patch.labels, C, patch.size, m));
  }
  if (d.noise && d.noise.std > 0) addNoise(image, d.noise.std, d.noise.seed);
  if (d.intensity) {
    const { scale, shift } = d.intensity;
    for (let c = 0; c < C; c++) for (let i = c * n, e = i + n; i < e; i++) image[i] = image[i] * scale[c] + shift[c];
  }
  if (d.gamma) applyGamma(image, d.gamma, n);
  return { ...patch, image, labels, size: [...patch.size], start: [...patch.start] };
}

/**
 * `patch` augmented as `o` asks, deterministically from `seed` (pass
 * mixSeed(runSeed, epoch, index, AUGMENT_STREAM)): new arrays, the input untouched.
 */
export function augmentPatch(patch: Patch, o: Augmentation, seed: number): Patch {
  return applyAugmentation(patch, drawAugmentation(o, patch.size, patch.channels ?? 1, seed));
}
