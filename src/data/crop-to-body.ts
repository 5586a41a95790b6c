// Training volumes cropped to the body (config `cropToBody`, nnU-Net's first preprocessing step): the
// air around a patient holds no organ, and cut away it leaves fewer voxels to read, sample and cache.
// Training only: predictions run on the whole scan.
import { bodyBox, extractChannelsPatch, extractPatch, type Box } from './crop.js';
import { channelCount, voxelCount, type Geometry, type Vec3, type Volume } from './volume.js';

/** The geometry of `box` of a grid: the same spacing and directions, the origin at the box's first voxel. */
export function geometryOfBox(g: Geometry, box: Box): Geometry {
  const d = g.direction;
  const step = box.start.map((s, i) => s * g.spacing[i]);
  const origin = [0, 1, 2].map(
    (r) => g.origin[r] + d[3 * r] * step[0] + d[3 * r + 1] * step[1] + d[3 * r + 2] * step[2],
  );
  return { size: [...box.size], spacing: [...g.spacing], origin: origin as Vec3, direction: [...d] };
}

/** An image and its label map cut to the body's box (unchanged when the box is the whole volume). */
export function cropToBody(image: Volume, labels: Volume): { image: Volume; labels: Volume; box: Box } {
  const C = channelCount(image);
  const box = bodyBox(image.data, C, image.size, labels.data);
  if (box.size.every((s, i) => s === image.size[i])) return { image, labels, box };
  const geometry = geometryOfBox(image, box);
  const channels = C > 1 ? { channels: C } : {};
  return {
    image: {
      ...geometry,
      data: extractChannelsPatch(image.data, C, image.size, box.start, box.size),
      pixelType: image.pixelType,
      ...channels,
    },
    labels: {
      ...geometry,
      data: extractPatch(labels.data, labels.size, box.start, box.size),
      pixelType: labels.pixelType,
    },
    box,
  };
}

/** "1.2 M → 0.8 M voxels (64 %)": what a crop kept, for the log. */
export function cropSummary(before: number, after: Pick<Volume, 'size'>[]): string {
  const kept = after.reduce((s, v) => s + voxelCount(v), 0);
  const m = (n: number) => `${(n / 1e6).toFixed(2)} M`;
  return `${m(before)} → ${m(kept)} voxels (${((100 * kept) / Math.max(1, before)).toFixed(0)} %)`;
}
