// Intensity normalisation. The paper: min–max with the minimum and maximum of the
// whole training set, then each sub-volume min–max to [0, 1] as it enters the
// network. Also z-score (dataset mean / std) and CT windowing. The statistics are
// plain JSON, stored with the trained model so inference applies the same ones.
// Images with several channels are normalised per channel: one set of statistics per
// channel (a list, in channel order), each patch min–maxed per channel.
import { channelCount, voxelCount, type Volume, type VoxelArray } from './volume.js';
import { ComboSegError } from '../engine/errors.js';

export type Normalisation =
  | { kind: 'minmax'; min: number; max: number }
  | { kind: 'zscore'; mean: number; std: number }
  | { kind: 'window'; low: number; high: number };

export type NormalisationKind = Normalisation['kind'];

/** Dataset-wide statistics over every voxel of every volume (streamed, one pass). */
export function computeNormalisation(
  volumes: Iterable<VoxelArray>,
  kind: NormalisationKind,
  window?: [number, number],
): Normalisation {
  if (kind === 'window') {
    if (!window || !(window[1] > window[0])) {
      throw new ComboSegError(
        `normalisation 'window' needs [low, high] with high > low, got ${JSON.stringify(window)}`,
        { code: 'invalid-option', path: 'normalisation.window' },
      );
    }
    return { kind, low: window[0], high: window[1] };
  }
  let min = Infinity,
    max = -Infinity,
    n = 0,
    mean = 0,
    m2 = 0;
  for (const data of volumes) {
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (x < min) min = x;
      if (x > max) max = x;
      n++;
      const d = x - mean; // Welford: stable for large volumes
      mean += d / n;
      m2 += d * (x - mean);
    }
  }
  if (n === 0) {
    throw new ComboSegError('normalisation: no voxels to compute statistics from', { code: 'invalid-input' });
  }
  if (kind === 'minmax') return { kind, min, max };
  return { kind, mean, std: Math.sqrt(m2 / n) };
}

/** Applies dataset statistics: min–max and window map to [0, 1] (window clamps first), z-score to mean 0, std 1. */
export function normalise(data: VoxelArray, n: Normalisation): Float32Array {
  const out = new Float32Array(data.length);
  let scale: number, shift: number;
  if (n.kind === 'minmax') {
    shift = n.min;
    scale = n.max > n.min ? 1 / (n.max - n.min) : 0;
  } else if (n.kind === 'zscore') {
    shift = n.mean;
    scale = n.std > 0 ? 1 / n.std : 0;
  } else {
    shift = n.low;
    scale = 1 / (n.high - n.low);
  }
  for (let i = 0; i < data.length; i++) {
    let x = data[i];
    if (n.kind === 'window') x = x < n.low ? n.low : x > n.high ? n.high : x;
    out[i] = (x - shift) * scale;
  }
  return out;
}

/** Min–max of one patch to [0, 1] in place (a constant patch becomes 0). */
export function minMaxInPlace(patch: Float32Array): Float32Array {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < patch.length; i++) {
    const x = patch[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const s = hi > lo ? 1 / (hi - lo) : 0;
  for (let i = 0; i < patch.length; i++) patch[i] = (patch[i] - lo) * s;
  return patch;
}

/**
 * Per-channel dataset statistics: entry c from channel c of every volume (all must have the
 * same number of channels). `kind` and `window` apply to every channel.
 */
export function computeChannelNormalisation(
  volumes: Volume[],
  kind: NormalisationKind,
  window?: [number, number],
): Normalisation[] {
  if (!volumes.length) {
    throw new ComboSegError('normalisation: no volumes to compute statistics from', { code: 'invalid-input' });
  }
  const C = channelCount(volumes[0]);
  if (volumes.some((v) => channelCount(v) !== C)) {
    const counts = volumes.map(channelCount).join(', ');
    throw new ComboSegError(`normalisation: volumes with different channel counts (${counts})`, {
      code: 'invalid-input',
    });
  }
  const channel = (c: number) => volumes.map((v) => v.data.subarray(c * voxelCount(v), (c + 1) * voxelCount(v)));
  return Array.from({ length: C }, (_, c) => computeNormalisation(channel(c), kind, window));
}

/** Applies per-channel statistics to a volume: channel c with `n[c]`; channel-major float32 out. */
export function normaliseChannels(v: Volume, n: Normalisation[]): Float32Array {
  const C = channelCount(v),
    N = voxelCount(v);
  if (n.length !== C) {
    const why = `${n.length} set(s) of normalisation statistics for an image of ${C} channel(s)`;
    throw new ComboSegError(`normalisation: ${why}`, { code: 'invalid-input' });
  }
  if (C === 1) return normalise(v.data.subarray(0, N), n[0]);
  const out = new Float32Array(C * N);
  for (let c = 0; c < C; c++) out.set(normalise(v.data.subarray(c * N, (c + 1) * N), n[c]), c * N);
  return out;
}

/** Min–max of each of a patch's `channels` (channel-major) to [0, 1] in place. */
export function minMaxChannelsInPlace(patch: Float32Array, channels = 1): Float32Array {
  const n = patch.length / channels;
  for (let c = 0; c < channels; c++) minMaxInPlace(patch.subarray(c * n, (c + 1) * n));
  return patch;
}
