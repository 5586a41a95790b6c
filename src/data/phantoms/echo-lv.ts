// Echocardiography-like phantoms: 128³ at 2 mm, the left-ventricle myocardium
// as a prolate ellipsoidal shell (~1 % of the voxels) around a dark blood pool,
// in a sector-shaped field of view, with multiplicative speckle and signal
// dropout (angular sectors of lost signal, as behind ribs or lungs).
import { Rng } from '../../util/random.js';
import type { Vec3 } from '../volume.js';
import { forEachInside, gauss, gaussianBlur, radiiForShare } from './shapes.js';
import type { Phantom } from './types.js';

export const MYOCARDIUM_SHARE = 0.01;

export function echoLvPhantom(seed: number, size: Vec3 = [128, 128, 128]): Phantom {
  const rng = new Rng(seed);
  const [X, Y, Z] = size;
  const n = X * Y * Z;
  const tissue = new Float32Array(n).fill(0.15);
  const labels = new Uint8Array(n);
  const c: Vec3 = [X * rng.uniform(0.45, 0.55), Y * rng.uniform(0.45, 0.55), Z * rng.uniform(0.5, 0.6)];
  const yaw = rng.uniform(-0.6, 0.6),
    pitch = rng.uniform(-0.4, 0.4);
  // A shell of thickness t between ellipsoids with semi-axes R and R − t fills
  // 4/3·π·(R³ − (R − t)³) ≈ the target share: solve for the outer size.
  const share = MYOCARDIUM_SHARE * rng.uniform(0.9, 1.1);
  const wall = 0.7; // inner/outer ratio of the axes (a ~1 cm wall around a ~2.5 cm cavity)
  const outer = radiiForShare(size, share / (1 - wall ** 3), [0.75, 0.75, 1.3]);
  const inner = outer.map((r) => r * wall) as Vec3;
  forEachInside(size, { c, r: outer, yaw, pitch }, (i) => {
    tissue[i] = 0.75;
    labels[i] = 1;
  });
  forEachInside(size, { c, r: inner, yaw, pitch }, (i) => {
    tissue[i] = 0.05;
    labels[i] = 0;
  }); // blood pool
  gaussianBlur(tissue, size, [0.8, 0.8, 0.8]);
  // Sector field of view from a probe at the top, and dropout wedges.
  const apex: Vec3 = [X / 2, Y / 2, -0.1 * Z];
  const half = rng.uniform(0.55, 0.7);
  const drops = Array.from({ length: 1 + rng.int(3) }, () => ({
    az: rng.uniform(-Math.PI, Math.PI),
    width: rng.uniform(0.15, 0.35),
    depth: rng.uniform(0.3, 0.7),
  }));
  const image = new Float32Array(n);
  for (let z = 0, i = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++, i++) {
        const dx = x - apex[0],
          dy = y - apex[1],
          dz = z - apex[2];
        const angle = Math.atan2(Math.hypot(dx, dy), dz);
        if (angle > half) continue; // outside the sector: no signal
        const az = Math.atan2(dy, dx);
        let gain = 1;
        for (const d of drops)
          if (Math.abs(Math.atan2(Math.sin(az - d.az), Math.cos(az - d.az))) < d.width) gain *= d.depth;
        const speckle = Math.hypot(gauss(rng), gauss(rng)) / Math.SQRT2; // Rayleigh, mean ≈ 0.89
        image[i] = 255 * Math.min(1, tissue[i] * gain * speckle);
      }
  return {
    image,
    labels,
    size,
    spacing: [(2 * 128) / X, (2 * 128) / Y, (2 * 128) / Z],
    names: ['myocardium'],
    modality: 'US',
  };
}
