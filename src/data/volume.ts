// Volume: voxel data plus the geometry that places it in the patient (ITK's
// LPS convention, millimetres).
//
// Axis convention, used everywhere in comboseg: ITK stores x fastest, then y,
// then z. That buffer IS a C-order array of shape [z, y, x], i.e. a tensor
// [D, H, W], with no copy or transpose. `size` and `spacing` are in (x, y, z)
// order; a tensor's spatial shape is the reverse, [size[2], size[1], size[0]].
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
  const close = (x: number[], y: number[]) =>
    x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) <= tol * Math.max(1, Math.abs(v)));
  return (
    a.size.join() === b.size.join() &&
    close(a.spacing, b.spacing) &&
    close(a.origin, b.origin) &&
    close(a.direction, b.direction)
  );
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
