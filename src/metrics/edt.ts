// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): the
// squared distance from every voxel to the nearest feature voxel, separable in
// x, y, z, linear time, with anisotropic voxel spacing (mm).

const INF = 1e20;

/**
 * Squared distances (mm²) to the nearest voxel where `feature` is non-zero, on a
 * grid of `size` (x, y, z; x fastest). Voxels with no feature anywhere stay 1e20.
 */
export function squaredEdt(
  feature: ArrayLike<number>,
  size: [number, number, number],
  spacing: [number, number, number],
): Float64Array {
  const [X, Y, Z] = size;
  const d = new Float64Array(X * Y * Z);
  for (let i = 0; i < d.length; i++) d[i] = feature[i] ? 0 : INF;
  const n = Math.max(X, Y, Z);
  const f = new Float64Array(n),
    out = new Float64Array(n),
    z = new Float64Array(n + 1);
  const v = new Int32Array(n);
  // One line of `len` samples starting at `base`, `stride` apart.
  const line = (base: number, len: number, stride: number, s2: number) => {
    let any = false;
    for (let q = 0, i = base; q < len; q++, i += stride) {
      const x = d[i];
      f[q] = x;
      if (x < INF) any = true;
    }
    if (!any) return;
    lowerEnvelope(f, len, s2, v, z, out);
    for (let q = 0, i = base; q < len; q++, i += stride) d[i] = out[q];
  };
  const [sx, sy, sz] = spacing.map((s) => s * s);
  for (let k = 0; k < Y * Z; k++) line(k * X, X, 1, sx);
  for (let zz = 0; zz < Z; zz++) for (let x = 0; x < X; x++) line(zz * X * Y + x, Y, X, sy);
  for (let k = 0; k < X * Y; k++) line(k, Z, X * Y, sz);
  return d;
}

/** 1-D squared distance transform of f with sample spacing² `s2`: out[q] = min_p s2·(q − p)² + f[p]. */
function lowerEnvelope(
  f: Float64Array,
  n: number,
  s2: number,
  v: Int32Array,
  z: Float64Array,
  out: Float64Array,
): void {
  let k = 0;
  // First finite sample starts the envelope (INF samples contribute nothing).
  let first = 0;
  while (first < n && f[first] >= INF) first++;
  v[0] = first;
  z[0] = -INF;
  z[1] = INF;
  for (let q = first + 1; q < n; q++) {
    if (f[q] >= INF) continue;
    let s: number;
    for (;;) {
      const p = v[k];
      s = (f[q] + s2 * q * q - (f[p] + s2 * p * p)) / (2 * s2 * (q - p));
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    out[q] = s2 * (q - p) * (q - p) + f[p];
  }
}
