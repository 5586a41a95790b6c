// Image patches read straight from a preprocessed case's raw float32 file (case-cache.ts), normalised as
// they are read. Pure (no engine): the patch pipeline's worker threads run it.
import { closeSync, openSync, readSync } from 'node:fs';
import type { Normalisation } from './normalise.js';
import type { Vec3 } from './volume.js';

/** Where a training case's image lives when it is not in memory, and how to normalise it. */
export interface ImageFile {
  path: string;
  normalisation: Normalisation[];
}

/**
 * Reads the box [start, start + patch) of a cached image (raw float32, channel-major, `size`), normalised
 * per channel; voxels outside the volume are 0 (as patches cut from memory are padded).
 */
export function readImageBox(
  path: string,
  size: Vec3,
  channels: number,
  normalisation: Normalisation[],
  start: Vec3,
  patch: Vec3,
): Float32Array {
  const [sx, sy, sz] = size,
    [px, py, pz] = patch;
  const out = new Float32Array(channels * px * py * pz);
  const x0 = Math.max(0, start[0]),
    x1 = Math.min(sx, start[0] + px);
  if (x1 <= x0) return out;
  const row = Buffer.alloc((x1 - x0) * 4);
  const values = new Float32Array(row.buffer, row.byteOffset, x1 - x0);
  const fd = openSync(path, 'r');
  try {
    for (let c = 0; c < channels; c++) {
      const [shift, scale, lo, hi] = affineOf(normalisation[c]);
      for (let z = 0; z < pz; z++) {
        const vz = start[2] + z;
        if (vz < 0 || vz >= sz) continue;
        for (let y = 0; y < py; y++) {
          const vy = start[1] + y;
          if (vy < 0 || vy >= sy) continue;
          readSync(fd, row, 0, row.length, 4 * (((c * sz + vz) * sy + vy) * sx + x0));
          const at = ((c * pz + z) * py + y) * px + (x0 - start[0]);
          for (let i = 0; i < values.length; i++) {
            const x = values[i] < lo ? lo : values[i] > hi ? hi : values[i];
            out[at + i] = (x - shift) * scale;
          }
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** normalise()'s map as (shift, scale, clamp low, clamp high). */
function affineOf(n: Normalisation): [number, number, number, number] {
  if (n.kind === 'minmax') return [n.min, n.max > n.min ? 1 / (n.max - n.min) : 0, -Infinity, Infinity];
  if (n.kind === 'zscore') return [n.mean, n.std > 0 ? 1 / n.std : 0, -Infinity, Infinity];
  return [n.low, 1 / (n.high - n.low), n.low, n.high];
}
