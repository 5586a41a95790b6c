// Shared test helpers: closeness checks, finite-difference gradients, leak checks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tensor, tidy, liveTensors, loadSafetensors, dispose, type Tensor } from '../src/index.js';

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i],
      e = expected[i];
    const err = Math.abs(a - e) / Math.max(1, Math.abs(e));
    assert.ok(err <= tol, `${what}[${i}]: got ${a}, expected ${e} (rel. error ${err.toExponential(2)} > ${tol})`);
  }
}

/** Deterministic pseudo-random numbers (mulberry32) so tests do not depend on libtorch's generator. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}

export interface GradInput {
  shape: number[];
  /** Values; default: random in [-1, 1]. */
  values?: Float64Array;
}

/**
 * Checks autograd's gradient of Σ f(inputs)·r (r a fixed random weighting) with
 * respect to each input against central finite differences, in float64.
 */
export function checkGradient(
  name: string,
  f: (...xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  opts: { eps?: number; tol?: number; seed?: number } = {},
): void {
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-5;
  const values = inputs.map(
    (inp, k) =>
      inp.values ??
      randomArray(
        inp.shape.reduce((a, b) => a * b, 1),
        (opts.seed ?? 7) + 13 * k,
      ),
  );
  const outShape = tidy(() => f(...inputs.map((inp, k) => tensor(values[k], inp.shape))).shape);
  const r = randomArray(
    outShape.reduce((a, b) => a * b, 1),
    99,
    0.5,
    1.5,
  );
  const objective = (vals: Float64Array[]): number =>
    tidy(() =>
      f(...vals.map((v, k) => tensor(v, inputs[k].shape)))
        .mul(tensor(r, outShape))
        .sum()
        .item(),
    );
  const analytic = tidy(() => {
    const xs = values.map((v, k) => tensor(v, inputs[k].shape, { requiresGrad: true }));
    f(...xs)
      .mul(tensor(r, outShape))
      .sum()
      .backward();
    return xs.map((x) => {
      const g = x.grad;
      return g === null ? new Float64Array(x.size) : (g.toTypedArray() as Float64Array);
    });
  });
  values.forEach((v, k) => {
    const numeric = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const orig = v[i];
      v[i] = orig + eps;
      const up = objective(values);
      v[i] = orig - eps;
      const down = objective(values);
      v[i] = orig;
      numeric[i] = (up - down) / (2 * eps);
    }
    assertClose(analytic[k], numeric, tol, `${name}: d/d(input ${k})`);
  });
}

/** Runs fn and asserts it left no tensor undisposed. */
export function expectNoLeaks(fn: () => void): void {
  const before = liveTensors();
  fn();
  assert.equal(liveTensors(), before, `leaked ${liveTensors() - before} tensor(s)`);
}

/** The network's weights in a run's checkpoint (`file` in `runDir`), by name, as plain arrays. */
export function checkpointWeights(runDir: string, file = 'last.safetensors'): Record<string, number[]> {
  const st = loadSafetensors(join(runDir, file));
  const out = Object.fromEntries(
    Object.entries(st.tensors)
      .filter(([k]) => k.startsWith('model.'))
      .map(([k, t]) => [k, t.toArray()]),
  );
  dispose(st.tensors);
  return out;
}
