// Grids of another size over the same field of view, and trilinear resizing on plain arrays with
// libtorch's own rule (align_corners = false), so that code without the engine — exported models
// run by onnxruntime, in Node or in the page — resamples as ./resample.ts does.
import { channelCount, voxelCount, type Geometry, type Vec3, type Volume } from './volume.js';

/** The geometry of a grid of `size` voxels covering the same field of view as `g`. */
export function geometryForSize(g: Geometry, size: Vec3): Geometry {
  const spacing = g.spacing.map((s, i) => (s * g.size[i]) / size[i]) as Vec3;
  // Voxel centres move by half the change in spacing, along each axis direction.
  const shift = spacing.map((s, i) => (s - g.spacing[i]) / 2);
  const d = g.direction;
  const origin = [0, 1, 2].map(
    (r) => g.origin[r] + d[3 * r] * shift[0] + d[3 * r + 1] * shift[1] + d[3 * r + 2] * shift[2],
  ) as Vec3;
  return { size: [...size], spacing, origin, direction: [...d] };
}

/** The size (rounded) that a spacing gives over the same field of view. */
export function sizeForSpacing(g: Geometry, spacing: Vec3): Vec3 {
  return g.size.map((n, i) => Math.max(1, Math.round((n * g.spacing[i]) / spacing[i]))) as Vec3;
}

/** Whether a grid already has `spacing` (within 0.1 %). */
export function hasSpacing(v: Pick<Geometry, 'spacing'>, spacing: Vec3): boolean {
  return v.spacing.every((s, i) => Math.abs(s - spacing[i]) <= 1e-3 * spacing[i]);
}

/** For each output index along one axis: the two input indices and the weight of the second. */
function axisTaps(input: number, output: number): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(output),
    i1 = new Int32Array(output),
    w = new Float32Array(output);
  const scale = input / output;
  for (let o = 0; o < output; o++) {
    // PyTorch's area-pixel source index (align_corners = false), clamped at 0.
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const a = Math.min(Math.floor(src), input - 1);
    i0[o] = a;
    i1[o] = Math.min(a + 1, input - 1);
    w[o] = src - a;
  }
  return { i0, i1, w };
}

/** Channel-major data [C, D, H, W] resized to [C, ...out] (both [D, H, W]) by trilinear interpolation. */
export function resizeLinear(data: ArrayLike<number>, channels: number, from: Vec3, out: Vec3): Float32Array {
  const [D, H, W] = from,
    [OD, OH, OW] = out;
  const [tz, ty, tx] = [axisTaps(D, OD), axisTaps(H, OH), axisTaps(W, OW)];
  const result = new Float32Array(channels * OD * OH * OW);
  const inN = D * H * W;
  let o = 0;
  for (let c = 0; c < channels; c++) {
    const base = c * inN;
    for (let z = 0; z < OD; z++) {
      const [z0, z1, wz] = [tz.i0[z] * H * W, tz.i1[z] * H * W, tz.w[z]];
      for (let y = 0; y < OH; y++) {
        const [y0, y1, wy] = [ty.i0[y] * W, ty.i1[y] * W, ty.w[y]];
        for (let x = 0; x < OW; x++, o++) {
          const [x0, x1, wx] = [tx.i0[x], tx.i1[x], tx.w[x]];
          const at = (zz: number, yy: number) => data[base + zz + yy + x0] * (1 - wx) + data[base + zz + yy + x1] * wx;
          const plane = (zz: number) => at(zz, y0) * (1 - wy) + at(zz, y1) * wy;
          result[o] = plane(z0) * (1 - wz) + plane(z1) * wz;
        }
      }
    }
  }
  return result;
}

/** A volume (every channel) on `size` voxels over the same field of view, trilinear; float32. */
export function resizeVolumeLinear(v: Volume, size: Vec3): Volume {
  const C = channelCount(v);
  const data = resizeLinear(v.data, C, [v.size[2], v.size[1], v.size[0]], [size[2], size[1], size[0]]);
  const channels = C > 1 ? { channels: C } : {};
  return { ...geometryForSize(v, size), data, pixelType: 'float32', ...channels };
}

/** Channel-major maps on `from`'s grid, trilinear onto `to`'s grid (same field of view). */
export function mapsOnGrid(maps: Float32Array, from: Geometry, to: Geometry): Float32Array {
  const C = maps.length / voxelCount(from);
  return resizeLinear(maps, C, [from.size[2], from.size[1], from.size[0]], [to.size[2], to.size[1], to.size[0]]);
}
