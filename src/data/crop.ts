// Cutting sub-volumes out of a volume, padding where they cross its border; the Patch a sampler makes.
// Pure TypeScript over typed arrays (no engine): the data pipeline's worker threads run it.
// Sizes and corners are in (x, y, z) order, like Volume.
import type { Vec3, VoxelArray } from './volume.js';

/** Copies the box [start, start + patch) of a volume of `size`; voxels outside take `pad`. */
export function extractPatch<T extends VoxelArray>(data: T, size: Vec3, start: Vec3, patch: Vec3, pad = 0): T {
  const [px, py, pz] = patch;
  const out = new (data.constructor as new (n: number) => T)(px * py * pz);
  if (pad !== 0) out.fill(pad);
  const [sx, sy, sz] = size;
  const x0 = Math.max(0, start[0]),
    x1 = Math.min(sx, start[0] + px);
  if (x1 <= x0) return out;
  for (let z = 0; z < pz; z++) {
    const vz = start[2] + z;
    if (vz < 0 || vz >= sz) continue;
    for (let y = 0; y < py; y++) {
      const vy = start[1] + y;
      if (vy < 0 || vy >= sy) continue;
      const src = (vz * sy + vy) * sx;
      out.set(data.subarray(src + x0, src + x1), (z * py + y) * px + (x0 - start[0]));
    }
  }
  return out;
}

/** The box of `extractPatch` from each channel of channel-major `data` (`channels` of them), channel-major. */
export function extractChannelsPatch<T extends VoxelArray>(
  data: T,
  channels: number,
  size: Vec3,
  start: Vec3,
  patch: Vec3,
  pad = 0,
): T {
  if (channels === 1) return extractPatch(data, size, start, patch, pad);
  const N = size[0] * size[1] * size[2],
    n = patch[0] * patch[1] * patch[2];
  const out = new (data.constructor as new (n: number) => T)(channels * n);
  for (let c = 0; c < channels; c++)
    out.set(extractPatch(data.subarray(c * N, (c + 1) * N) as T, size, start, patch, pad), c * n);
  return out;
}

export interface Patch {
  caseId: string;
  /** Normalised image values, x fastest; with several channels, channel-major [C, z, y, x]. */
  image: Float32Array;
  /** Image channels (absent: 1). */
  channels?: number;
  /** Label values, x fastest. */
  labels: VoxelArray;
  size: Vec3;
  /** Corner in the volume (may be negative: padded). */
  start: Vec3;
  kind: 'organ' | 'background' | 'positive' | 'negative' | 'whole';
  /** For 'organ' patches: the label value the patch was drawn for. */
  organ?: number;
}

/** A box of a volume: its first voxel and its size, (x, y, z). */
export interface Box {
  start: Vec3;
  size: Vec3;
}

/**
 * The body's bounding box (nnU-Net's crop to the non-zero region): voxels where any image channel is
 * non-zero, joined with every labelled voxel so that no organ is cut. The whole volume when nothing is.
 */
export function bodyBox(image: ArrayLike<number>, channels: number, size: Vec3, labels: ArrayLike<number>): Box {
  const [X, Y, Z] = size;
  const N = X * Y * Z;
  const lo: Vec3 = [X, Y, Z],
    hi: Vec3 = [-1, -1, -1];
  for (let z = 0, i = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++, i++) {
        let inside = labels[i] > 0;
        for (let c = 0; c < channels && !inside; c++) inside = image[c * N + i] !== 0;
        if (!inside) continue;
        if (x < lo[0]) lo[0] = x;
        if (x > hi[0]) hi[0] = x;
        if (y < lo[1]) lo[1] = y;
        if (y > hi[1]) hi[1] = y;
        if (z < lo[2]) lo[2] = z;
        if (z > hi[2]) hi[2] = z;
      }
  if (hi[0] < 0) return { start: [0, 0, 0], size: [X, Y, Z] };
  return { start: lo, size: [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1] };
}
