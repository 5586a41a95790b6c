// bf16 batch norm, max pooling and nearest up-sampling (oneDNN's own API on channels-last
// activations in Debian's build, libtorch's kernels elsewhere) against libtorch's float64 kernels
// on the same bf16-rounded inputs: the independent truth a bf16 layer must meet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  tidy,
  cast,
  batchNorm,
  maxPool3d,
  upsampleNearest3d,
  engineInfo,
  type Tensor,
} from '../../src/index.js';
import { assertClose, randomArray } from '../helpers.js';

const BF16_TOL = 2 ** -8;
const onednnApi = engineInfo().bf16ConvPath === 'onednn-api';
const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());
const bf16 = (v: Float64Array, shape: number[]) => cast(tensor(v, shape), 'bfloat16');
/** The float64 tensor of exactly the values a bf16 tensor holds. */
const exact = (t: Tensor) => cast(t, 'float64');

// 16 channels: oneDNN's jit kernel (whole 16-channel blocks); 5: libtorch's kernel on a plain copy.
for (const C of [16, 5]) {
  test(`batch norm in bf16 (training, ${C} channels): output, running statistics, gradients = float64`, () =>
    tidy(() => {
      const shape = [2, C, 6, 7, 4];
      const x = bf16(randomArray(2 * C * 6 * 7 * 4, 3, -2, 3), shape);
      const run = (input: Tensor, dtype: 'float32' | 'float64') => {
        const w = cast(tensor(randomArray(C, 4, 0.5, 1.5), [C]), dtype);
        const b = cast(tensor(randomArray(C, 5), [C]), dtype);
        const rm = cast(tensor(randomArray(C, 6), [C]), dtype);
        const rv = cast(tensor(randomArray(C, 7, 0.5, 2), [C]), dtype);
        const xin = input.detach();
        xin.requiresGrad = true;
        w.requiresGrad = true;
        b.requiresGrad = true;
        const y = batchNorm(xin, w, b, rm, rv, true, 0.1, 1e-5);
        const r = cast(tensor(randomArray(y.size, 8), y.shape), 'bfloat16'); // what a bf16 layer above sends
        y.mul(cast(r, y.dtype)).sum().backward();
        return {
          y: f64(y),
          rm: f64(rm),
          rv: f64(rv),
          gx: f64(xin.grad!),
          gw: f64(w.grad!),
          gb: f64(b.grad!),
          dtype: y.dtype,
        };
      };
      const got = run(x, 'float32'),
        ref = run(exact(x), 'float64');
      if (onednnApi) assert.equal(got.dtype, 'bfloat16');
      assertClose(got.y, ref.y, BF16_TOL, 'output');
      assertClose(got.rm, ref.rm, 1e-5, 'running mean');
      assertClose(got.rv, ref.rv, 1e-5, 'running variance (unbiased, momentum 0.1)');
      assertClose(got.gx, ref.gx, 2 * BF16_TOL, 'input gradient');
      assertClose(got.gw, ref.gw, 1e-4, 'weight gradient');
      assertClose(got.gb, ref.gb, 1e-4, 'bias gradient');
    }));
}

test('batch norm in bf16 (eval, 16 channels): the running statistics normalise', () =>
  tidy(() => {
    const C = 16;
    const x = bf16(randomArray(2 * C * 4 * 4 * 4, 9, -2, 2), [2, C, 4, 4, 4]);
    const values = [randomArray(C, 31, 0.5, 1.5), randomArray(C, 32), randomArray(C, 33), randomArray(C, 34, 0.5, 2)];
    const params = (dtype: 'float32' | 'float64') => values.map((v) => cast(tensor(v, [C]), dtype));
    const [w, b, rm, rv] = params('float32');
    const [w2, b2, rm2, rv2] = params('float64');
    const before = Array.from(rm.toFloat32Array());
    const got = batchNorm(x, w, b, rm, rv, false);
    const ref = batchNorm(exact(x), w2, b2, rm2, rv2, false);
    assertClose(f64(got), f64(ref), BF16_TOL, 'eval output');
    assert.deepEqual(Array.from(rm.toFloat32Array()), before, 'eval mode leaves the running mean alone');
  }));

/** Values exact in bf16 (integers below 256), distinct within every 2×2×2 window: no ties for argmax. */
function distinctInWindows(shape: number[], seed: number): Float64Array {
  const [n, c, d, h, w] = shape;
  const noise = randomArray(n * c * d * h * w, seed, 0, 1);
  const out = new Float64Array(noise.length);
  for (let i = 0; i < out.length; i++) {
    const x = i % w,
      y = Math.floor(i / w) % h,
      z = Math.floor(i / (w * h)) % d;
    const within = (z % 2) * 4 + (y % 2) * 2 + (x % 2);
    out[i] = within + 8 * Math.floor(noise[i] * 31) - 128;
  }
  return out;
}

test('max pooling in bf16: the same maxima and the gradient routed to the same voxels as float64', () =>
  tidy(() => {
    for (const shape of [
      [2, 3, 8, 6, 4],
      [1, 2, 7, 5, 9], // odd sizes: the last plane of each axis is dropped (floor mode)
    ]) {
      const x = bf16(distinctInWindows(shape, 12), shape);
      const run = (input: Tensor) => {
        const xin = input.detach();
        xin.requiresGrad = true;
        const y = maxPool3d(xin, 2);
        const r = cast(cast(tensor(randomArray(y.size, 13), y.shape), 'bfloat16'), y.dtype);
        y.mul(r).sum().backward();
        return { y: f64(y), gx: f64(xin.grad!), shape: y.shape };
      };
      const got = run(x),
        ref = run(exact(x));
      assert.deepEqual(got.shape, ref.shape);
      assert.deepEqual(got.y, ref.y, `maxima, input ${shape}`);
      assertClose(got.gx, ref.gx, 1e-6, `gradient, input ${shape}`);
    }
  }));

test('nearest up-sampling in bf16: copies as libtorch does; the gradient sums each block', () =>
  tidy(() => {
    const shape = [2, 3, 3, 4, 5];
    const x = bf16(randomArray(2 * 3 * 3 * 4 * 5, 14), shape);
    const run = (input: Tensor) => {
      const xin = input.detach();
      xin.requiresGrad = true;
      const y = upsampleNearest3d(xin, { scale: 2 });
      const r = cast(cast(tensor(randomArray(y.size, 15), y.shape), 'bfloat16'), y.dtype);
      y.mul(r).sum().backward();
      return { y: f64(y), gx: f64(xin.grad!), shape: y.shape };
    };
    const got = run(x),
      ref = run(exact(x));
    assert.deepEqual(got.shape, [2, 3, 6, 8, 10]);
    assert.deepEqual(got.y, ref.y);
    assertClose(got.gx, ref.gx, BF16_TOL, 'gradient (a sum of 8 bf16 values, rounded)');
  }));
