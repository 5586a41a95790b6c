// Where the windows of a sliding-window pass go, and the Gaussian weights that favour their
// centres: shared by libtorch's pass (./sliding-window.ts) and the array pass (./portable.ts).
import { ComboSegError } from '../engine/errors.js';

type Vec3 = [number, number, number];

/** Window starts along one axis: 0, s, 2s, ... and a last one flush with the border. */
export function windowStarts(length: number, window: number, stride: number): number[] {
  if (stride < 1) throw new ComboSegError(`sliding window: stride must be ≥ 1, got ${stride}`);
  if (length <= window) return [0];
  const starts: number[] = [];
  for (let s = 0; s + window < length; s += stride) starts.push(s);
  starts.push(length - window);
  return [...new Set(starts)];
}

/** Gaussian importance map of the window's shape, σ = window / 8, peak 1, floored so no weight is 0. */
export function gaussianMap(window: Vec3): Float32Array {
  const [D, H, W] = window;
  const g = (n: number) => Array.from({ length: n }, (_, i) => Math.exp(-(((i - (n - 1) / 2) / (n / 8)) ** 2) / 2));
  const gd = g(D),
    gh = g(H),
    gw = g(W);
  const out = new Float32Array(D * H * W);
  for (let z = 0, i = 0; z < D; z++)
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++, i++) out[i] = Math.max(gd[z] * gh[y] * gw[x], 1e-3);
  return out;
}
