// Surface distances between two binary masks on one grid, in millimetres.
// A surface voxel is a mask voxel with a 6-neighbour outside the mask (the
// volume's border counts as outside). Distances are taken from each surface
// voxel of one mask to the nearest surface voxel of the other.
import { squaredEdt } from './edt.js';

export interface SurfaceDistances {
  /** Hausdorff distance: the largest surface distance either way. */
  hd: number;
  /** 95th percentile, as MONAI: the larger of the two directed 95th percentiles. */
  hd95: number;
  /** Average symmetric surface distance: mean over both surfaces' distances. */
  assd: number;
}

type Vec3 = [number, number, number];

/** Surface voxels of `mask` inside the box [lo, hi) of a volume of `size`, as a 0/1 array over the box. */
function surfaceIn(mask: Uint8Array, size: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const [X, Y] = size;
  const bx = hi[0] - lo[0],
    by = hi[1] - lo[1],
    bz = hi[2] - lo[2];
  const out = new Uint8Array(bx * by * bz);
  const at = (x: number, y: number, z: number) =>
    x < 0 || y < 0 || z < 0 || x >= size[0] || y >= size[1] || z >= size[2] ? 0 : mask[(z * Y + y) * X + x];
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++)
      for (let x = lo[0]; x < hi[0]; x++) {
        if (!mask[(z * Y + y) * X + x]) continue;
        if (
          !at(x - 1, y, z) ||
          !at(x + 1, y, z) ||
          !at(x, y - 1, z) ||
          !at(x, y + 1, z) ||
          !at(x, y, z - 1) ||
          !at(x, y, z + 1)
        ) {
          out[((z - lo[2]) * by + (y - lo[1])) * bx + (x - lo[0])] = 1;
        }
      }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return 0;
  const pos = (p / 100) * (sorted.length - 1);
  const i = Math.floor(pos),
    f = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/**
 * Surface distances between masks a and b (non-empty, same grid). Work is done
 * in the bounding box of both masks: every surface voxel lies inside it, so the
 * distance transform there is exact.
 */
export function surfaceDistances(a: Uint8Array, b: Uint8Array, size: Vec3, spacing: Vec3): SurfaceDistances {
  const lo: Vec3 = [Infinity, Infinity, Infinity],
    hi: Vec3 = [-1, -1, -1];
  const [X, Y] = size;
  for (let z = 0, i = 0; z < size[2]; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++, i++) {
        if (a[i] || b[i]) {
          if (x < lo[0]) lo[0] = x;
          if (y < lo[1]) lo[1] = y;
          if (z < lo[2]) lo[2] = z;
          if (x > hi[0]) hi[0] = x;
          if (y > hi[1]) hi[1] = y;
          if (z > hi[2]) hi[2] = z;
        }
      }
  const end: Vec3 = [hi[0] + 1, hi[1] + 1, hi[2] + 1];
  const box: Vec3 = [end[0] - lo[0], end[1] - lo[1], end[2] - lo[2]];
  const sa = surfaceIn(a, size, lo, end),
    sb = surfaceIn(b, size, lo, end);
  const directed = (from: Uint8Array, to: Uint8Array): Float64Array => {
    const d2 = squaredEdt(to, box, spacing);
    const out: number[] = [];
    for (let i = 0; i < from.length; i++) if (from[i]) out.push(Math.sqrt(d2[i]));
    return Float64Array.from(out).sort();
  };
  const ab = directed(sa, sb),
    ba = directed(sb, sa);
  const sum = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0);
  return {
    hd: Math.max(ab[ab.length - 1] ?? 0, ba[ba.length - 1] ?? 0),
    hd95: Math.max(percentile(ab, 95), percentile(ba, 95)),
    assd: (sum(ab) + sum(ba)) / (ab.length + ba.length),
  };
}
