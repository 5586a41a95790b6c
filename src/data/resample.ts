// Resampling on libtorch's interpolation kernels, keeping the field of view
// (the outer edges of the voxel grid): linear for images, nearest or
// label-aware (per-label linear, then the most likely label) for label maps,
// and back to the original grid for predictions.
import { tensor } from '../engine/tensor.js';
import { tidy, noGrad } from '../engine/index.js';
import { call } from '../engine/ops/dispatch.js';
import { upsampleTrilinear3d } from '../engine/ops/nn.js';
import { argmax } from '../engine/ops/reduce.js';
import { cat } from '../engine/ops/shape.js';
import { ComboSegError } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import { spatialShape, type Geometry, type Vec3, type Volume, type VoxelArray } from './volume.js';
import { geometryForSize, sizeForSpacing } from './resize-linear.js';

export type ResampleMode = 'linear' | 'nearest' | 'label';

export { geometryForSize, sizeForSpacing } from './resize-linear.js';

function interpolate(x: Tensor, out: Vec3, mode: 'linear' | 'nearest'): Tensor {
  if (mode === 'linear') return upsampleTrilinear3d(x, { size: out }, false);
  // nearest-exact: the centre-aligned nearest neighbour (plain 'nearest' is shifted by half a voxel)
  return call('aten::_upsample_nearest_exact3d.vec', x, out, null) as Tensor;
}

/** Resamples a volume to `size` voxels over the same field of view. */
export function resampleToSize(v: Volume, size: Vec3, mode: ResampleMode): Volume {
  if (size.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new ComboSegError(`resample: bad target size [${size}]`, { code: 'invalid-option', path: 'size' });
  }
  const geometry = geometryForSize(v, size);
  const out: Vec3 = [size[2], size[1], size[0]];
  const data = tidy(() =>
    noGrad((): VoxelArray => {
      const x = tensor(Float32Array.from(v.data), [1, 1, ...spatialShape(v)]);
      if (mode !== 'label') {
        const r = interpolate(x, out, mode).toFloat32Array();
        return mode === 'nearest' ? castLike(v.data, r) : r;
      }
      const values = [...new Set(Array.from(v.data))].sort((a, b) => a - b);
      const channels = values.map((l) => x.eq(l).cast('float32'));
      const probs = interpolate(cat(channels, 1), out, 'linear');
      const idx = argmax(probs, 1).toTypedArray() as BigInt64Array;
      const labels = new (v.data.constructor as new (n: number) => VoxelArray)(idx.length);
      for (let i = 0; i < idx.length; i++) labels[i] = values[Number(idx[i])];
      return labels;
    }),
  );
  return { ...geometry, data, pixelType: v.pixelType };
}

function castLike(like: VoxelArray, values: Float32Array): VoxelArray {
  if (like instanceof Float32Array || like instanceof Float64Array) return values;
  const out = new (like.constructor as new (n: number) => VoxelArray)(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(values[i]);
  return out;
}

/** Resamples to a voxel spacing (mm, x y z) over the same field of view. */
export function resampleToSpacing(v: Volume, spacing: Vec3, mode: ResampleMode): Volume {
  return resampleToSize(v, sizeForSpacing(v, spacing), mode);
}

/**
 * Back onto an original grid (a prediction made on a resampled volume): the
 * original must cover the same field of view with the same directions.
 */
export function resampleLike(v: Volume, target: Geometry, mode: ResampleMode): Volume {
  const fov = (g: Geometry) => g.size.map((n, i) => n * g.spacing[i]);
  const a = fov(v),
    b = fov(target);
  if (a.some((x, i) => Math.abs(x - b[i]) > 1e-3 * Math.max(1, b[i]) + 1e-3)) {
    throw new ComboSegError(
      `resampleLike: fields of view differ ([${a.map((x) => x.toFixed(2))}] vs [${b.map((x) => x.toFixed(2))}] mm)`,
      { code: 'invalid-input' },
    );
  }
  const r = resampleToSize(v, target.size, mode);
  return { ...r, origin: [...target.origin], spacing: [...target.spacing] };
}
