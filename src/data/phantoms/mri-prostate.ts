// Prostate MRI-like phantoms: 48 slices of 256 × 256 at 1 × 1 × 3 mm, one
// gland at ~0.6 % of the voxels inside a pelvis with bladder (bright, T2-like)
// above it and rectum (dark) behind it, a smooth multiplicative bias field and
// Rician noise (the magnitude of complex Gaussian noise).
import { Rng } from '../../util/random.js';
import type { Vec3 } from '../volume.js';
import { forEachInside, gauss, gaussianBlur, radiiForShare, smoothField } from './shapes.js';
import type { Phantom } from './types.js';

export const PROSTATE_SHARE = 0.006;

export function mriProstatePhantom(seed: number, size: Vec3 = [256, 256, 48]): Phantom {
  const rng = new Rng(seed);
  const [X, Y, Z] = size;
  const n = X * Y * Z;
  const tissue = new Float32Array(n);
  const labels = new Uint8Array(n);
  const j = (v: number, f = 0.05) => v * (1 + rng.uniform(-f, f));
  forEachInside(size, { c: [X / 2, Y / 2, Z / 2], r: [0.44 * X, 0.36 * Y, 0.7 * Z] }, (i) => {
    tissue[i] = 0.35;
  }); // pelvis
  forEachInside(size, { c: [j(0.5) * X, j(0.66) * Y, Z / 2], r: [0.07 * X, 0.06 * Y, 0.6 * Z] }, (i) => {
    tissue[i] = 0.08;
  }); // rectum
  forEachInside(
    size,
    { c: [j(0.5) * X, j(0.4) * Y, j(0.75) * Z], r: radiiForShare(size, 0.01, [1.3, 1, 0.6]) },
    (i) => {
      tissue[i] = 0.95;
    },
  ); // bladder
  for (const side of [-1, 1])
    forEachInside(size, { c: [(0.5 + side * 0.3) * X, 0.55 * Y, Z / 2], r: [0.06 * X, 0.06 * Y, 0.7 * Z] }, (i) => {
      tissue[i] = 0.6;
    }); // femoral heads
  const r = radiiForShare(size, PROSTATE_SHARE * rng.uniform(0.9, 1.1), [1.2, 0.9, 0.55]);
  forEachInside(size, { c: [j(0.5) * X, j(0.52) * Y, j(0.45) * Z], r, yaw: rng.uniform(-0.3, 0.3) }, (i, q) => {
    tissue[i] = q < 0.45 ? 0.55 : 0.45; // central gland / peripheral zone
    labels[i] = 1;
  });
  gaussianBlur(tissue, size, [1, 1, 0.5]);
  const bias = smoothField(size, rng, 0.3);
  const sigma = 0.04;
  const image = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = tissue[i] * bias[i];
    image[i] = 1000 * Math.hypot(s + sigma * gauss(rng), sigma * gauss(rng));
  }
  return { image, labels, size, spacing: [256 / X, 256 / Y, (3 * 48) / Z], names: ['prostate'], modality: 'MRI' };
}
