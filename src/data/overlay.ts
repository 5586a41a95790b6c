// Slices of a volume as RGB pictures: labels over the image, or a prediction's agreement and
// errors against the truth, in ./palette.ts's colours. Organs are drawn as a translucent fill with
// a solid outline, errors as a solid fill, so the two never read alike whatever the colours.
// An image of several channels shows its first.
import type { Vec3, Volume, VoxelArray } from './volume.js';
import { voxelOutcome } from './difference.js';
import { ERROR_COLOURS, ORGAN_FILL_OPACITY, SUV_WINDOW, organColour, type Rgb } from './palette.js';

export type SliceAxis = 'axial' | 'coronal' | 'sagittal';
export const SLICE_AXES: readonly SliceAxis[] = ['axial', 'coronal', 'sagittal'];
export interface Picture {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** The smallest long side, in pixels, of a picture drawn with the default zoom. */
export const MIN_PICTURE_SIDE = 256;

/** In-slice axes (u, v) and the fixed axis of a plane, as indices into (x, y, z). */
const planeAxes = (axis: SliceAxis): [number, number, number] =>
  axis === 'axial' ? [0, 1, 2] : axis === 'coronal' ? [0, 2, 1] : [1, 2, 0];

/** Pixels per voxel along u and v: `zoom` on the finer axis, the coarser one stretched to keep millimetres square. */
function pixelScale(spacing: Vec3, axis: SliceAxis, zoom: number): [number, number] {
  const [du, dv] = planeAxes(axis);
  const minSp = Math.min(spacing[du], spacing[dv]);
  return [(zoom * spacing[du]) / minSp, (zoom * spacing[dv]) / minSp];
}

/** The smallest whole zoom that draws a plane at least `minSide` pixels on its long side. */
export function fitZoom(size: Vec3, spacing: Vec3, axis: SliceAxis, minSide = MIN_PICTURE_SIDE): number {
  const [du, dv] = planeAxes(axis);
  const [su, sv] = pixelScale(spacing, axis, 1);
  return Math.max(1, Math.ceil(minSide / Math.max(size[du] * su, size[dv] * sv)));
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
  const [du, dv, fixed] = planeAxes(axis);
  const flipV = axis !== 'axial';
  const [su, sv] = pixelScale(spacing, axis, zoom);
  const width = Math.round(size[du] * su),
    height = Math.round(size[dv] * sv);
  const rgb = new Uint8Array(width * height * 3);
  const c = [0, 0, 0];
  c[fixed] = index;
  for (let py = 0; py < height; py++)
    for (let px = 0; px < width; px++) {
      const u = Math.min(size[du] - 1, Math.floor(px / su)),
        v = Math.min(size[dv] - 1, Math.floor(py / sv));
      c[du] = u;
      c[dv] = flipV ? size[dv] - 1 - v : v;
      const col = pixel((c[2] * size[1] + c[1]) * size[0] + c[0], u, v);
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

/** Grey levels of an image's first `n` values (its first channel): `window`, or its value range. */
function greyScale(image: VoxelArray, n: number, window?: readonly [number, number]): (i: number) => number {
  const [mn, mx] = window ?? valueRange(image.subarray(0, n));
  const s = 255 / (mx - mn || 1);
  return (i) => Math.max(0, Math.min(255, (image[i] - mn) * s));
}

/** The grey window a volume is shown with: SUV_WINDOW for PET in SUV, else its own value range. */
export function displayWindow(image: Pick<Volume, 'units'>): readonly [number, number] | undefined {
  return image.units === 'SUV' ? SUV_WINDOW : undefined;
}

const blend = (g: number, c: Rgb, a: number): Rgb => [
  g * (1 - a) + c[0] * a,
  g * (1 - a) + c[1] * a,
  g * (1 - a) + c[2] * a,
];

/** How a voxel is drawn: nothing (key 0), an organ (translucent, outlined) or an error (solid). */
type Style = { key: number; rgb: Rgb; solid: boolean } | null;

/**
 * A slice with `styleOf(voxel)` drawn over the grey image: organ regions (voxels of one key) as a
 * translucent fill whose in-slice border is opaque, errors as opaque fills.
 */
function drawRegions(
  image: VoxelArray,
  size: Vec3,
  spacing: Vec3,
  plane: { axis: SliceAxis; index: number; zoom?: number; window?: readonly [number, number] },
  styleOf: (voxel: number) => Style,
): Picture {
  const { axis, index } = plane;
  const grey = greyScale(image, size[0] * size[1] * size[2], plane.window);
  const [du, dv] = planeAxes(axis);
  const strides = [1, size[0], size[0] * size[1]];
  const zoom = plane.zoom ?? fitZoom(size, spacing, axis);
  return renderSlice(size, spacing, axis, index, zoom, (i, u, v) => {
    const g = grey(i);
    const s = styleOf(i);
    if (!s) return [g, g, g];
    if (s.solid) return s.rgb;
    const key = (du2: number, dv2: number) => {
      const uu = u + du2,
        vv = v + dv2;
      if (uu < 0 || vv < 0 || uu >= size[du] || vv >= size[dv]) return -1;
      return styleOf(i + du2 * strides[du] + (axis === 'axial' ? dv2 : -dv2) * strides[dv])?.key ?? 0;
    };
    const edge = key(-1, 0) !== s.key || key(1, 0) !== s.key || key(0, -1) !== s.key || key(0, 1) !== s.key;
    return edge ? s.rgb : blend(g, s.rgb, ORGAN_FILL_OPACITY);
  });
}

export interface PlaneOptions {
  /** Pixels per voxel on the finer in-plane axis (default: the least that makes the long side ≥ 256 px). */
  zoom?: number;
  /** Grey window [lo, hi] (default: the image's value range). */
  window?: readonly [number, number];
}

/** Labels over the image, each organ in its colour: a translucent fill with a solid outline. */
export function sliceOverlay(
  image: VoxelArray,
  labels: VoxelArray | null,
  size: Vec3,
  spacing: Vec3,
  axis: SliceAxis,
  index: number,
  opts: PlaneOptions = {},
): Picture {
  return drawRegions(image, size, spacing, { axis, index, ...opts }, (i) => {
    const l = labels ? labels[i] : 0;
    return l > 0 ? { key: l, rgb: organColour(l), solid: false } : null;
  });
}

/**
 * A prediction against the truth: agreement on an organ in that organ's colour (outlined,
 * translucent), false positives, false negatives and wrong organs in their error colours (solid).
 */
export function errorOverlay(
  image: VoxelArray,
  pred: VoxelArray,
  truth: VoxelArray,
  size: Vec3,
  spacing: Vec3,
  axis: SliceAxis,
  index: number,
  /** Plane options; a number is the zoom (the signature before PlaneOptions). */
  opts: PlaneOptions | number = {},
): Picture {
  const plane = typeof opts === 'number' ? { zoom: opts } : opts;
  return drawRegions(image, size, spacing, { axis, index, ...plane }, (i) => {
    const o = voxelOutcome(pred[i], truth[i]);
    if (o === 'background') return null;
    if (o === 'agreement') return { key: pred[i], rgb: organColour(pred[i]), solid: false };
    return { key: -1, rgb: ERROR_COLOURS[o], solid: true };
  });
}

/** The voxel nearest the centre of mass of the voxels where `inside(i)` holds, or null when there are none. */
export function centreOfMass(size: Vec3, inside: (voxel: number) => boolean): Vec3 | null {
  const sum = [0, 0, 0];
  let n = 0;
  for (let z = 0, i = 0; z < size[2]; z++)
    for (let y = 0; y < size[1]; y++)
      for (let x = 0; x < size[0]; x++, i++)
        if (inside(i)) {
          sum[0] += x;
          sum[1] += y;
          sum[2] += z;
          n++;
        }
  return n ? [Math.round(sum[0] / n), Math.round(sum[1] / n), Math.round(sum[2] / n)] : null;
}

/** The slice index of `axis` through voxel `at`. */
export const sliceThrough = (axis: SliceAxis, at: Vec3): number => at[planeAxes(axis)[2]];

/** Pictures in a row, top-aligned, `gap` pixels apart on a white ground. */
export function sideBySide(pictures: readonly Picture[], gap = 8): Picture {
  const width = pictures.reduce((w, p) => w + p.width, 0) + gap * Math.max(0, pictures.length - 1);
  const height = Math.max(0, ...pictures.map((p) => p.height));
  const rgb = new Uint8Array(width * height * 3).fill(255);
  let x0 = 0;
  for (const p of pictures) {
    for (let y = 0; y < p.height; y++)
      rgb.set(p.rgb.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * width + x0) * 3);
    x0 += p.width + gap;
  }
  return { rgb, width, height };
}
