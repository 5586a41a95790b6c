// A common voxel spacing for training (nnU-Net's target spacing): scans acquired at 3.9–5.5 mm in-plane
// show a network organs of different sizes in voxels; resampled to one spacing they do not. The target is
// the training cases' median per axis, or given. Predictions are made on that grid and mapped back to each
// scan's own (src/inference/predict.ts).
import { z } from 'zod';
import { resampleToSpacing, type ResampleMode } from './resample.js';
import { hasSpacing } from './resize-linear.js';
import { channelCount, splitChannels, stackChannels, type Vec3, type Volume } from './volume.js';

const mm = z.number().positive().max(1000);

export const SpacingSettingSchema = z
  .union([z.literal('median'), z.tuple([mm, mm, mm])])
  .optional()
  .describe(
    "train on one voxel spacing: 'median' (of the training cases, per axis, as nnU-Net) or [x, y, z] mm; " +
      'absent: each scan as it comes (the paper)',
  );
export type SpacingSetting = z.infer<typeof SpacingSettingSchema>;

/** The spacing a setting asks for, given the training scans; undefined for none. */
export function targetSpacing(setting: SpacingSetting, scans: Pick<Volume, 'spacing'>[]): Vec3 | undefined {
  if (setting === undefined) return undefined;
  if (setting !== 'median') return [...setting];
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  return [0, 1, 2].map((i) => median(scans.map((v) => v.spacing[i]))) as Vec3;
}

export { hasSpacing } from './resize-linear.js';

/** `v` on `spacing` over the same field of view; each channel alone (linear for images, 'label' for label maps). */
export function toSpacing(v: Volume, spacing: Vec3, mode: ResampleMode): Volume {
  if (hasSpacing(v, spacing)) return v;
  if (channelCount(v) === 1) return resampleToSpacing(v, spacing, mode);
  return stackChannels(splitChannels(v).map((c) => resampleToSpacing(c, spacing, mode)));
}
