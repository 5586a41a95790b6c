// Bayesian optimisation on a box: a Gaussian process (squared-exponential kernel,
// length scale chosen by marginal likelihood from a few candidates) and the
// expected-improvement acquisition, maximised over random candidates. Small n
// (tens of points), so plain Cholesky in JavaScript is enough.
import { Rng } from '../util/random.js';

export type Point = number[];

function cholesky(a: number[][]): number[][] {
  const n = a.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      l[i][j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j][j];
    }
  return l;
}

/** Solves L·y = b then Lᵀ·x = y. */
function cholSolve(l: number[][], b: number[]): number[] {
  const n = l.length,
    y = new Array<number>(n),
    x = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i][k] * y[k];
    y[i] = s / l[i][i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k][i] * x[k];
    x[i] = s / l[i][i];
  }
  return x;
}

const sqDist = (a: Point, b: Point) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);

export interface GpModel {
  mean(x: Point): number;
  std(x: Point): number;
  lengthScale: number;
}

/** Fits a GP to points in [0, 1]^d with values y (standardised inside). */
export function fitGp(xs: Point[], ys: number[], noise = 1e-4): GpModel {
  const mu = ys.reduce((a, b) => a + b, 0) / ys.length;
  const sd = Math.sqrt(ys.reduce((a, b) => a + (b - mu) ** 2, 0) / ys.length) || 1;
  const z = ys.map((y) => (y - mu) / sd);
  let best: { ll: number; ls: number; l: number[][]; alpha: number[] } | null = null;
  for (const ls of [0.05, 0.1, 0.2, 0.3, 0.5, 0.8]) {
    const k = xs.map((a, i) => xs.map((b, j) => Math.exp(-sqDist(a, b) / (2 * ls * ls)) + (i === j ? noise : 0)));
    const l = cholesky(k);
    const alpha = cholSolve(l, z);
    const ll = -0.5 * z.reduce((s, v, i) => s + v * alpha[i], 0) - l.reduce((s, row, i) => s + Math.log(row[i]), 0);
    if (!best || ll > best.ll) best = { ll, ls, l, alpha };
  }
  if (!best) throw new Error('fitGp: no length scale was tried');
  const { ls, l, alpha } = best;
  const kx = (x: Point) => xs.map((b) => Math.exp(-sqDist(x, b) / (2 * ls * ls)));
  return {
    lengthScale: ls,
    mean: (x) => mu + sd * kx(x).reduce((s, v, i) => s + v * alpha[i], 0),
    std: (x) => {
      const k = kx(x);
      const v = cholSolve(l, k);
      return sd * Math.sqrt(Math.max(1e-12, 1 + noise - k.reduce((s, kv, i) => s + kv * v[i], 0)));
    },
  };
}

function normCdf(z: number): number {
  // Abramowitz & Stegun 7.1.26 for erf
  const t = 1 / (1 + 0.3275911 * Math.abs(z / Math.SQRT2));
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(z * z) / 2);
  return 0.5 * (1 + Math.sign(z) * erf);
}
const normPdf = (z: number) => Math.exp(-(z * z) / 2) / Math.sqrt(2 * Math.PI);

/** Expected improvement over `best` (maximisation). */
export function expectedImprovement(gp: GpModel, x: Point, best: number, xi = 0.01): number {
  const m = gp.mean(x),
    s = gp.std(x);
  const z = (m - best - xi) / s;
  return (m - best - xi) * normCdf(z) + s * normPdf(z);
}

/** The next point to evaluate in [0, 1]^d: random for the first `initial` ones, then the best EI among candidates. */
export function suggest(xs: Point[], ys: number[], dims: number, rng: Rng, initial = 3, candidates = 2000): Point {
  if (xs.length < initial) return Array.from({ length: dims }, () => rng.next());
  const gp = fitGp(xs, ys);
  const best = Math.max(...ys);
  let arg: Point = [],
    top = -Infinity;
  for (let c = 0; c < candidates; c++) {
    const x = Array.from({ length: dims }, () => rng.next());
    const ei = expectedImprovement(gp, x, best);
    if (ei > top) {
      top = ei;
      arg = x;
    }
  }
  return arg;
}
