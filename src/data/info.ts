// What `comboseg info` shows about a volume.
import { channelCount, type Volume } from './volume.js';

export interface VolumeInfo {
  size: number[];
  spacing: number[];
  origin: number[];
  /** Row-major 3×3, columns are the axis directions (LPS). */
  direction: number[];
  pixelType: string;
  /** Images on the grid (a 4-D file's last axis), when more than one; the values below are over all of them. */
  channels?: number;
  min: number;
  max: number;
  mean: number;
  /** For integer-valued images: voxel count per value. Null otherwise (or with more than 1000 values). */
  labels: Record<string, number> | null;
}

export function volumeInfo(v: Volume, maxLabels = 1000): VolumeInfo {
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    integral = true;
  const counts = new Map<number, number>();
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i];
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    if (integral) {
      if (!Number.isInteger(x)) integral = false;
      else {
        counts.set(x, (counts.get(x) ?? 0) + 1);
        if (counts.size > maxLabels) integral = false;
      }
    }
  }
  const labels = integral
    ? Object.fromEntries([...counts].sort((a, b) => a[0] - b[0]).map(([k, c]) => [String(k), c]))
    : null;
  return {
    size: [...v.size],
    spacing: [...v.spacing],
    origin: [...v.origin],
    direction: [...v.direction],
    pixelType: v.pixelType,
    ...(channelCount(v) > 1 ? { channels: channelCount(v) } : {}),
    min,
    max,
    mean: sum / v.data.length,
    labels,
  };
}
