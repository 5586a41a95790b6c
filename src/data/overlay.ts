// A slice of a volume as an RGB picture, with label outlines drawn over it.
import type { Vec3, VoxelArray } from './volume.js';

/** Distinct colours for labels 1, 2, ... (cycled). */
export const LABEL_COLOURS: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
];

export type SliceAxis = 'axial' | 'coronal' | 'sagittal';

/**
 * RGB pixels of one slice (axial: z = index, shown x → right, y → down; coronal: y = index,
 * z up; sagittal: x = index, z up), grey levels windowed to [lo, hi], labels as
 * translucent fills with solid outlines. Pixels are scaled by `zoom` (and by voxel
 * spacing ratios so anatomy keeps its proportions).
 */
export function sliceOverlay(
  image: VoxelArray, labels: VoxelArray | null, size: Vec3, spacing: Vec3, axis: SliceAxis, index: number,
  opts: { lo?: number; hi?: number; zoom?: number } = {},
): { rgb: Uint8Array; width: number; height: number } {
  const [X, Y] = size;
  const dims = axis === 'axial' ? [0, 1] : axis === 'coronal' ? [0, 2] : [1, 2];
  const flipV = axis !== 'axial';
  const voxel = (u: number, v: number): number => {
    const c = [0, 0, 0];
    c[dims[0]] = u;
    c[dims[1]] = flipV ? size[dims[1]] - 1 - v : v;
    c[axis === 'axial' ? 2 : axis === 'coronal' ? 1 : 0] = index;
    return (c[2] * Y + c[1]) * X + c[0];
  };
  let lo = opts.lo, hi = opts.hi;
  if (lo === undefined || hi === undefined) {
    let mn = Infinity, mx = -Infinity;
    for (let v = 0; v < size[dims[1]]; v++) for (let u = 0; u < size[dims[0]]; u++) {
      const x = Number(image[voxel(u, v)]);
      if (x < mn) mn = x;
      if (x > mx) mx = x;
    }
    lo ??= mn;
    hi ??= mx;
  }
  const zoom = opts.zoom ?? 2;
  const minSp = Math.min(spacing[dims[0]], spacing[dims[1]]);
  const su = (zoom * spacing[dims[0]]) / minSp, sv = (zoom * spacing[dims[1]]) / minSp;
  const width = Math.round(size[dims[0]] * su), height = Math.round(size[dims[1]] * sv);
  const rgb = new Uint8Array(width * height * 3);
  const labelAt = (u: number, v: number) => (labels && u >= 0 && v >= 0 && u < size[dims[0]] && v < size[dims[1]] ? Number(labels[voxel(u, v)]) : 0);
  for (let py = 0; py < height; py++) for (let px = 0; px < width; px++) {
    const u = Math.min(size[dims[0]] - 1, Math.floor(px / su)), v = Math.min(size[dims[1]] - 1, Math.floor(py / sv));
    const g = Math.max(0, Math.min(255, (255 * (Number(image[voxel(u, v)]) - lo)) / (hi - lo || 1)));
    let [r, gr, b] = [g, g, g];
    const l = labelAt(u, v);
    if (l > 0) {
      const col = LABEL_COLOURS[(l - 1) % LABEL_COLOURS.length];
      const edge = labelAt(u - 1, v) !== l || labelAt(u + 1, v) !== l || labelAt(u, v - 1) !== l || labelAt(u, v + 1) !== l;
      const a = edge ? 1 : 0.35;
      [r, gr, b] = [r * (1 - a) + col[0] * a, gr * (1 - a) + col[1] * a, b * (1 - a) + col[2] * a];
    }
    const o = (py * width + px) * 3;
    rgb[o] = r;
    rgb[o + 1] = gr;
    rgb[o + 2] = b;
  }
  return { rgb, width, height };
}
