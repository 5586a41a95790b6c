// Volume: voxel data plus the geometry that places it in the patient (ITK's
// LPS convention, millimetres).
//
// Axis convention, used everywhere in comboseg: ITK stores x fastest, then y,
// then z. That buffer IS a C-order array of shape [z, y, x], i.e. a tensor
// [D, H, W], with no copy or transpose. `size` and `spacing` are in (x, y, z)
// order; a tensor's spatial shape is the reverse, [size[2], size[1], size[0]].
//
// Channels (PET + CT, MRI contrasts): a volume with `channels` C > 1 holds C co-registered
// images on its one grid, channel-major: `data` is a C-order array [C, z, y, x], i.e. the
// tensor [C, D, H, W] (the network input [1, C, D, H, W]) with no copy. Channel c is the
// run data[c·N, (c + 1)·N) of N = voxelCount voxels, so channel 0 comes first and code that
// reads only N voxels sees channel 0. That is also ITK's buffer of a 4-D image with the
// channels on its last axis. `channels` absent means 1. Label maps, probabilities and
// predictions are single-channel; `withData` and `geometryOf` give single-channel volumes.
import { ComboSegError } from '../engine/errors.js';

export type Vec3 = [number, number, number];

/** Element arrays a volume can hold (bigint types are converted to float64 on read). */
export type VoxelArray =
  Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array;

export interface Geometry {
  /** Voxels along x, y, z. */
  size: Vec3;
  /** Millimetres between voxel centres along x, y, z. */
  spacing: Vec3;
  /** Physical (LPS, mm) position of the centre of voxel (0, 0, 0). */
  origin: Vec3;
  /** Row-major 3×3 matrix whose columns are the x, y, z axis directions in LPS. */
  direction: number[];
}

export interface Volume extends Geometry {
  /** Voxel values, x fastest (C order [z, y, x]); scaling (scl_slope / scl_inter) already applied. */
  data: VoxelArray;
  /** Component type stored in the file (before scaling), e.g. 'int16', 'float32'. */
  pixelType: string;
  /** Images on this grid, channel-major in `data` (see the top of this file); absent means 1. */
  channels?: number;
  /** What the values measure, when known: 'SUV' for PET in standardised uptake values (display only). */
  units?: 'SUV';
}

export function voxelCount(g: Pick<Geometry, 'size'>): number {
  return g.size[0] * g.size[1] * g.size[2];
}

/** The tensor shape [D, H, W] of a volume. */
export function spatialShape(g: Pick<Geometry, 'size'>): Vec3 {
  return [g.size[2], g.size[1], g.size[0]];
}

export function geometryOf(v: Geometry): Geometry {
  return { size: [...v.size], spacing: [...v.spacing], origin: [...v.origin], direction: [...v.direction] };
}

/** A volume with another's geometry and new data (e.g. a prediction for a scan). */
export function withData(like: Geometry, data: VoxelArray, pixelType: string): Volume {
  if (data.length !== voxelCount(like)) {
    throw new ComboSegError(
      `volume data has ${data.length} voxels, the geometry [${like.size}] needs ${voxelCount(like)}`,
      { code: 'invalid-input' },
    );
  }
  return { ...geometryOf(like), data, pixelType };
}

/** True when two volumes share size, spacing, origin and direction (to a tolerance). */
export function sameGrid(a: Geometry, b: Geometry, tol = 1e-3): boolean {
  return gridDifference(a, b, tol) === '';
}

const closeTo = (x: number[], y: number[], tol: number) =>
  x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) <= tol * Math.max(1, Math.abs(v)));

/** How two grids differ, in words ('' when they are the same grid to the tolerance). */
export function gridDifference(a: Geometry, b: Geometry, tol = 1e-3): string {
  const r = (x: number[]) => `[${x.map((v) => +v.toFixed(4)).join(', ')}]`;
  const parts: string[] = [];
  if (a.size.join() !== b.size.join()) parts.push(`size ${r(a.size)} vs ${r(b.size)}`);
  if (!closeTo(a.spacing, b.spacing, tol)) parts.push(`spacing ${r(a.spacing)} vs ${r(b.spacing)}`);
  if (!closeTo(a.origin, b.origin, tol)) parts.push(`origin ${r(a.origin)} vs ${r(b.origin)}`);
  if (!closeTo(a.direction, b.direction, tol)) parts.push(`direction ${r(a.direction)} vs ${r(b.direction)}`);
  return parts.join(', ');
}

/** Physical LPS position (mm) of a continuous voxel index (i, j, k). */
export function indexToPhysical(g: Geometry, ijk: Vec3): Vec3 {
  const s = [ijk[0] * g.spacing[0], ijk[1] * g.spacing[1], ijk[2] * g.spacing[2]];
  const d = g.direction;
  return [
    g.origin[0] + d[0] * s[0] + d[1] * s[1] + d[2] * s[2],
    g.origin[1] + d[3] * s[0] + d[4] * s[1] + d[5] * s[2],
    g.origin[2] + d[6] * s[0] + d[7] * s[1] + d[8] * s[2],
  ];
}

/** The number of channels of a volume (1 unless it says otherwise). */
export function channelCount(v: Pick<Volume, 'channels'>): number {
  return v.channels ?? 1;
}

/** Channel `c` of a volume as a single-channel volume (a view of its data, not a copy). */
export function channelOf(v: Volume, c: number): Volume {
  const C = channelCount(v);
  if (!Number.isInteger(c) || c < 0 || c >= C) {
    throw new ComboSegError(`channel ${c} of a volume with ${C} channel(s)`, { code: 'invalid-input' });
  }
  const n = voxelCount(v);
  return { ...geometryOf(v), data: v.data.subarray(c * n, (c + 1) * n), pixelType: v.pixelType };
}

/** The channels of a volume as single-channel volumes (views). */
export function splitChannels(v: Volume): Volume[] {
  return Array.from({ length: channelCount(v) }, (_, c) => channelOf(v, c));
}

/** The array type that holds every channel's values exactly (float32 when they are small enough). */
function stackedArray(vols: Volume[], n: number): VoxelArray {
  const ctor = vols[0].data.constructor as new (n: number) => VoxelArray;
  if (vols.every((v) => v.data.constructor === ctor)) return new ctor(n);
  const wide = vols.some(
    (v) => v.data instanceof Float64Array || v.data instanceof Int32Array || v.data instanceof Uint32Array,
  );
  return wide ? new Float64Array(n) : new Float32Array(n);
}

/**
 * One volume whose channels are those of `vols`, in order (each may itself have several). All
 * must share one grid (size, spacing, origin, direction); else a ComboSegError ('invalid-input')
 * naming the two files (`names[i]` names `vols[i]`, e.g. its path) and how their grids differ.
 */
export function stackChannels(vols: Volume[], names: string[] = vols.map((_, i) => `channel ${i}`)): Volume {
  if (!vols.length) throw new ComboSegError('no images to stack as channels', { code: 'invalid-input' });
  if (vols.length === 1) return vols[0];
  for (let i = 1; i < vols.length; i++) {
    const why = gridDifference(vols[0], vols[i]);
    if (why) {
      const msg = `${names[i]} is not on the grid of ${names[0]} (${why}); all channels of a case must share one grid`;
      throw new ComboSegError(msg, { code: 'invalid-input', path: names[i] });
    }
  }
  const n = voxelCount(vols[0]);
  const channels = vols.reduce((a, v) => a + channelCount(v), 0);
  const data = stackedArray(vols, channels * n);
  let at = 0;
  for (const v of vols) {
    data.set(v.data.subarray(0, channelCount(v) * n), at);
    at += channelCount(v) * n;
  }
  const types = [...new Set(vols.map((v) => v.pixelType))];
  return { ...geometryOf(vols[0]), data, pixelType: types.join(','), channels };
}
