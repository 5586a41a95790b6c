// Building blocks of the synthetic phantoms: ellipsoids, separable Gaussian
// blur (partial-volume effect), noise. Volumes are Float32Array, x fastest.
import type { Rng } from '../../util/random.js';
import type { Vec3 } from '../volume.js';

export interface Ellipsoid {
  /** Centre, voxels (x, y, z). */
  c: Vec3;
  /** Semi-axes, voxels. */
  r: Vec3;
  /** Rotation about z (radians), then about x. */
  yaw?: number;
  pitch?: number;
}

/** Calls fn(index, q) for every voxel inside the ellipsoid, q = normalised radius² (< 1). */
export function forEachInside(size: Vec3, e: Ellipsoid, fn: (i: number, q: number) => void): void {
  const [X, Y] = size;
  const reach = Math.max(...e.r) + 1;
  const cy = Math.cos(e.yaw ?? 0),
    sy = Math.sin(e.yaw ?? 0),
    cp = Math.cos(e.pitch ?? 0),
    sp = Math.sin(e.pitch ?? 0);
  const lo = e.c.map((v) => Math.max(0, Math.floor(v - reach)));
  const hi = e.c.map((v, i) => Math.min(size[i] - 1, Math.ceil(v + reach)));
  for (let z = lo[2]; z <= hi[2]; z++)
    for (let y = lo[1]; y <= hi[1]; y++)
      for (let x = lo[0]; x <= hi[0]; x++) {
        const dx = x - e.c[0],
          dy = y - e.c[1],
          dz = z - e.c[2];
        const u = cy * dx + sy * dy,
          v0 = -sy * dx + cy * dy; // yaw
        const v = cp * v0 + sp * dz,
          w = -sp * v0 + cp * dz; // pitch
        const q = (u / e.r[0]) ** 2 + (v / e.r[1]) ** 2 + (w / e.r[2]) ** 2;
        if (q < 1) fn((z * Y + y) * X + x, q);
      }
}

/** Semi-axes of an ellipsoid that fills `share` of `size` with the given aspect ratios. */
export function radiiForShare(size: Vec3, share: number, aspect: Vec3): Vec3 {
  const n = size[0] * size[1] * size[2];
  const k = Math.cbrt((share * n * 3) / (4 * Math.PI * aspect[0] * aspect[1] * aspect[2]));
  return [k * aspect[0], k * aspect[1], k * aspect[2]];
}

/** Separable Gaussian blur with σ per axis (voxels), in place. */
export function gaussianBlur(v: Float32Array, size: Vec3, sigma: Vec3): Float32Array {
  const [X, Y] = size;
  const strides = [1, X, X * Y];
  const tmp = new Float32Array(v.length);
  for (let axis = 0; axis < 3; axis++) {
    const s = sigma[axis];
    if (s <= 0) continue;
    const rad = Math.ceil(3 * s);
    const k = Array.from({ length: 2 * rad + 1 }, (_, i) => Math.exp(-((i - rad) ** 2) / (2 * s * s)));
    const norm = k.reduce((a, b) => a + b, 0);
    const n = size[axis],
      st = strides[axis];
    for (let i = 0; i < v.length; i++) {
      const pos = Math.floor(i / st) % n;
      let acc = 0,
        wsum = 0;
      for (let t = -rad; t <= rad; t++) {
        const p = pos + t;
        if (p < 0 || p >= n) continue;
        acc += k[t + rad] * v[i + t * st];
        wsum += k[t + rad];
      }
      tmp[i] = acc / (wsum || norm);
    }
    v.set(tmp);
  }
  return v;
}

/** A standard normal sample (Box–Muller). */
export function gauss(rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12),
    v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A smooth random field in [1 − amp, 1 + amp] (bias field): a few low-frequency cosines. */
export function smoothField(size: Vec3, rng: Rng, amp: number): Float32Array {
  const waves = Array.from({ length: 4 }, () => ({
    f: [rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2), rng.uniform(0.2, 0.8)],
    ph: rng.uniform(0, 2 * Math.PI),
    a: rng.uniform(0.5, 1),
  }));
  const total = waves.reduce((s, w) => s + w.a, 0);
  const out = new Float32Array(size[0] * size[1] * size[2]);
  for (let z = 0, i = 0; z < size[2]; z++)
    for (let y = 0; y < size[1]; y++)
      for (let x = 0; x < size[0]; x++, i++) {
        let s = 0;
        for (const w of waves)
          s +=
            w.a *
            Math.cos(Math.PI * ((w.f[0] * x) / size[0] + (w.f[1] * y) / size[1] + (w.f[2] * z) / size[2]) * 2 + w.ph);
        out[i] = 1 + (amp * s) / total;
      }
  return out;
}
