// Slices of a volume as RGB pictures: labels over the image, or a prediction's
// agreement and errors against the truth. An image of several channels shows its first.
import type { Vec3, VoxelArray } from './volume.js';

type Rgb = [number, number, number];

/** Distinct colours for labels 1, 2, ... (cycled). */
export const LABEL_COLOURS: Rgb[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
];
/** False positives (predicted, not true) and false negatives (true, missed). */
export const ERROR_COLOURS = { fp: [255, 40, 40] as Rgb, fn: [40, 120, 255] as Rgb };

export type SliceAxis = 'axial' | 'coronal' | 'sagittal';
export interface Picture {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Draws one slice (axial: z = index, x → right, y → down; coronal: y = index, z up;
 * sagittal: x = index, z up), scaled by `zoom` and by the voxel spacing ratios so
 * anatomy keeps its proportions. `pixel(voxel, u, v)` gives each voxel's colour.
 */
function renderSlice(
  size: Vec3,
  spacing: Vec3,
  axis: SliceAxis,
  index: number,
  zoom: number,
  pixel: (voxel: number, u: number, v: number) => Rgb,
): Picture {
  const [X, Y] = size;
  const dims = axis === 'axial' ? [0, 1] : axis === 'coronal' ? [0, 2] : [1, 2];
  const fixed = axis === 'axial' ? 2 : axis === 'coronal' ? 1 : 0;
  const flipV = axis !== 'axial';
  const minSp = Math.min(spacing[dims[0]], spacing[dims[1]]);
  const su = (zoom * spacing[dims[0]]) / minSp,
    sv = (zoom * spacing[dims[1]]) / minSp;
  const width = Math.round(size[dims[0]] * su),
    height = Math.round(size[dims[1]] * sv);
  const rgb = new Uint8Array(width * height * 3);
  for (let py = 0; py < height; py++)
    for (let px = 0; px < width; px++) {
      const u = Math.min(size[dims[0]] - 1, Math.floor(px / su)),
        v = Math.min(size[dims[1]] - 1, Math.floor(py / sv));
      const c = [0, 0, 0];
      c[dims[0]] = u;
      c[dims[1]] = flipV ? size[dims[1]] - 1 - v : v;
      c[fixed] = index;
      const col = pixel((c[2] * Y + c[1]) * X + c[0], u, v);
      rgb.set(
        col.map((x) => Math.round(x)),
        (py * width + px) * 3,
      );
    }
  return { rgb, width, height };
}

/** The smallest and largest value of an image. */
function valueRange(image: VoxelArray): [number, number] {
  let a = Infinity,
    b = -Infinity;
  for (let i = 0; i < image.length; i++) {
    const x = image[i];
    if (x < a) a = x;
    if (x > b) b = x;
  }
  return [a, b];
}

/** Grey levels of an image's first `n` values: its first channel when it has several (channel-major). */
function greyScale(image: VoxelArray, n: number, lo?: number, hi?: number): (i: number) => number {
  const range = lo === undefined || hi === undefined ? valueRange(image.subarray(0, n)) : [lo, hi];
  const mn = lo ?? range[0],
    mx = hi ?? range[1];
  const s = 255 / (mx - mn || 1);
  return (i) => Math.max(0, Math.min(255, (image[i] - mn) * s));
}

const blend = (g: number, c: Rgb, a: number): Rgb => [
  g * (1 - a) + c[0] * a,
  g * (1 - a) + c[1] * a,
  g * (1 - a) + c[2] * a,
];

/** Labels over the image: translucent fills with solid outlines (a voxel whose in-slice neighbour differs). */
export function sliceOverlay(
  image: VoxelArray,
  labels: VoxelArray | null,
  size: Vec3,
  spacing: Vec3,
  axis: SliceAxis,
  index: number,
  opts: { lo?: number; hi?: number; zoom?: number } = {},
): Picture {
  const grey = greyScale(image, size[0] * size[1] * size[2], opts.lo, opts.hi);
  const strides = [1, size[0], size[0] * size[1]];
  const dims = axis === 'axial' ? [0, 1] : axis === 'coronal' ? [0, 2] : [1, 2];
  return renderSlice(size, spacing, axis, index, opts.zoom ?? 2, (i, u, v) => {
    const g = grey(i);
    if (!labels) return [g, g, g];
    const l = labels[i];
    if (l <= 0) return [g, g, g];
    const nb = (du: number, dv: number) => {
      const uu = u + du,
        vv = v + dv;
      if (uu < 0 || vv < 0 || uu >= size[dims[0]] || vv >= size[dims[1]]) return -1;
      return labels[i + du * strides[dims[0]] + (axis === 'axial' ? dv : -dv) * strides[dims[1]]];
    };
    const edge = nb(-1, 0) !== l || nb(1, 0) !== l || nb(0, -1) !== l || nb(0, 1) !== l;
    return blend(g, LABEL_COLOURS[(l - 1) % LABEL_COLOURS.length], edge ? 1 : 0.35);
  });
}

/**
 * A prediction against the truth: where both agree on an organ, that organ's colour;
 * false positives in red, false negatives in blue; the image in grey elsewhere.
 */
export function errorOverlay(
  image: VoxelArray,
  pred: VoxelArray,
  truth: VoxelArray,
  size: Vec3,
  spacing: Vec3,
  axis: SliceAxis,
  index: number,
  zoom = 2,
): Picture {
  const grey = greyScale(image, size[0] * size[1] * size[2]);
  return renderSlice(size, spacing, axis, index, zoom, (i) => {
    const g = grey(i),
      p = pred[i],
      t = truth[i];
    if (p === 0 && t === 0) return [g, g, g];
    if (p === t) return blend(g, LABEL_COLOURS[(p - 1) % LABEL_COLOURS.length], 0.5);
    return blend(g, p > 0 && (t === 0 || t !== p) ? ERROR_COLOURS.fp : ERROR_COLOURS.fn, 0.85);
  });
}
