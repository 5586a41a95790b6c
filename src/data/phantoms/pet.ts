// Whole-body PET-like phantoms (../shared/SPEC.md §7): five target organs at
// roughly the paper's voxel shares — brain 0.64 %, heart 0.14 %, left kidney
// 0.08 %, right kidney 0.09 %, bladder 0.09 % — in a body of low uptake, with
// what makes the real task hard: uptake that varies between scans, "normal
// active regions" (liver, spine, salivary glands, bowel hot spots) that look
// like organs but are not labelled, and organs missing from some scans (no
// uptake: the organ is not labelled either, as an expert would not label it).
// Partial-volume blur and count (Poisson-like) noise finish the image.
import { Rng } from '../../util/random.js';
import type { Vec3 } from '../volume.js';
import { forEachInside, gauss, gaussianBlur, radiiForShare } from './shapes.js';
import type { Phantom } from './types.js';

export const PET_ORGANS = ['brain', 'heart', 'left kidney', 'right kidney', 'bladder'] as const;
export const PET_SHARES = [0.0064, 0.0014, 0.0008, 0.0009, 0.0009];

export function petPhantom(seed: number, size: Vec3 = [128, 128, 300]): Phantom {
  const rng = new Rng(seed);
  const [X, Y, Z] = size;
  const n = X * Y * Z;
  const activity = new Float32Array(n);
  const labels = new Uint8Array(n);
  const jitter = (v: number, f = 0.04) => v * (1 + rng.uniform(-f, f));
  // fz runs from the head down; LPS z points to the head, so the head sits at high z.
  const at = (fx: number, fy: number, fz: number): Vec3 => [jitter(fx) * X, jitter(fy) * Y, (1 - jitter(fz, 0.02)) * Z];
  // Body: a head and a trunk, low background uptake.
  forEachInside(size, { c: [X / 2, Y / 2, 0.91 * Z], r: [0.3 * X, 0.34 * Y, 0.09 * Z] }, (i) => {
    activity[i] = 0.6;
  });
  forEachInside(size, { c: [X / 2, Y / 2, 0.45 * Z], r: [0.42 * X, 0.3 * Y, 0.4 * Z] }, (i) => {
    activity[i] = 0.5;
  });
  // Normal active regions: unlabelled look-alikes.
  forEachInside(
    size,
    { c: at(0.4, 0.5, 0.42), r: radiiForShare(size, 0.012, [1.6, 1.1, 0.8]), yaw: rng.uniform(-0.3, 0.3) },
    (i) => {
      activity[i] = rng.uniform(1.4, 1.8);
    },
  ); // liver
  forEachInside(size, { c: [X / 2, 0.68 * Y, 0.5 * Z], r: [0.035 * X, 0.035 * Y, 0.38 * Z] }, (i) => {
    activity[i] = 1.2;
  }); // spine marrow
  for (const side of [-1, 1])
    forEachInside(size, { c: at(0.5 + side * 0.18, 0.42, 0.17), r: radiiForShare(size, 0.0006, [1, 1, 0.7]) }, (i) => {
      activity[i] = rng.uniform(3, 5);
    }); // salivary glands
  const hotSpots = 2 + rng.int(4);
  for (let h = 0; h < hotSpots; h++) {
    forEachInside(
      size,
      {
        c: at(rng.uniform(0.3, 0.7), rng.uniform(0.35, 0.6), rng.uniform(0.6, 0.8)),
        r: radiiForShare(size, rng.uniform(0.0002, 0.0006), [1, 1, 1]),
      },
      (i) => {
        activity[i] = rng.uniform(3, 8);
      },
    ); // bowel
  }
  // Target organs: position, shape, uptake per scan; kidneys and bladder sometimes absent.
  const organs: { c: Vec3; aspect: Vec3; uptake: number; absentP: number; yaw?: number }[] = [
    { c: at(0.5, 0.47, 0.09), aspect: [1, 1.2, 0.45], uptake: rng.uniform(6, 10), absentP: 0 },
    {
      c: at(0.55, 0.42, 0.3),
      aspect: [1, 0.9, 0.45],
      uptake: rng.uniform(3, 9),
      absentP: 0.05,
      yaw: rng.uniform(-0.5, 0.5),
    },
    { c: at(0.66, 0.62, 0.5), aspect: [0.7, 0.7, 0.6], uptake: rng.uniform(4, 8), absentP: 0.1 },
    { c: at(0.34, 0.62, 0.5), aspect: [0.7, 0.7, 0.6], uptake: rng.uniform(4, 8), absentP: 0.1 },
    { c: at(0.5, 0.4, 0.86), aspect: [1.1, 0.9, 0.5], uptake: rng.uniform(8, 20), absentP: 0.1 },
  ];
  organs.forEach((o, k) => {
    const r = radiiForShare(size, PET_SHARES[k] * rng.uniform(0.9, 1.1), o.aspect);
    if (rng.next() < o.absentP) return; // no uptake: neither visible nor labelled
    forEachInside(size, { c: o.c, r, yaw: o.yaw }, (i, q) => {
      activity[i] = o.uptake * (1 - 0.25 * q); // brighter core
      labels[i] = k + 1;
    });
  });
  gaussianBlur(activity, size, [1.2, 1.2, 0.8]); // partial volume
  const image = new Float32Array(n);
  for (let i = 0; i < n; i++) image[i] = Math.max(0, activity[i] + Math.sqrt(activity[i] + 0.05) * 0.25 * gauss(rng));
  return {
    image,
    labels,
    size,
    spacing: [0.35 * (128 / X) * 10, 0.35 * (128 / Y) * 10, 4 * (300 / Z)],
    names: [...PET_ORGANS],
    modality: 'PET',
  };
}
