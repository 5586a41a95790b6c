// Op results against values computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  tidy,
  add,
  sub,
  mul,
  div,
  pow,
  exp,
  log,
  sigmoid,
  logSigmoid,
  softplus,
  relu,
  prelu,
  clamp,
  where,
  eq,
  gt,
  le,
  minimum,
  maximum,
  sum,
  mean,
  amax,
  argmax,
  logsumexp,
  max,
  min,
  reshape,
  permute,
  transpose,
  slice,
  cat,
  stack,
  pad,
  flip,
  chunk,
  oneHot,
  matmul,
  conv3d,
  convTranspose3d,
  batchNorm,
  maxPool3dWithIndices,
  maxUnpool3d,
  upsampleNearest3d,
  upsampleTrilinear3d,
  softmax,
  logSoftmax,
  zeros,
  ones,
  full,
  arange,
  rand,
  randn,
  manualSeed,
  cast,
  noGrad,
  isGradEnabled,
  rsub,
  dropout,
} from '../../src/index.js';
import { assertClose } from '../helpers.js';

const t = (v: number[], s?: number[]) => tensor(v, s);

test('arithmetic with broadcasting and scalars', () =>
  tidy(() => {
    const a = t([1, 2, 3, 4], [2, 2]);
    const col = t([10, 20], [2, 1]);
    assert.deepEqual(add(a, col).toArray(), [11, 12, 23, 24]);
    assert.deepEqual(sub(a, 1).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(mul(a, col).toArray(), [10, 20, 60, 80]);
    assert.deepEqual(div(a, 2).toArray(), [0.5, 1, 1.5, 2]);
    assert.deepEqual(pow(a, 2).toArray(), [1, 4, 9, 16]);
    assert.deepEqual(rsub(a, 1).toArray(), [0, -1, -2, -3]);
    assertClose(exp(t([0, 1])).toArray(), [1, Math.E]);
    assertClose(log(t([1, Math.E])).toArray(), [0, 1]);
    assert.equal(a.shape.length, 2);
    assert.equal(a.size, 4);
    assert.equal(a.dtype, 'float32');
    assert.equal(a.device, 'cpu');
  }));

test('activations are exact and stable at the extremes', () =>
  tidy(() => {
    const x = tensor(new Float64Array([-1000, -2, 0, 2, 1000]));
    assertClose(sigmoid(x).toArray(), [0, 1 / (1 + Math.exp(2)), 0.5, 1 / (1 + Math.exp(-2)), 1], 1e-12);
    // log σ(−1000) = −1000 exactly in exact arithmetic; log(sigmoid(x)) would give −Inf.
    assertClose(
      logSigmoid(x).toArray(),
      [-1000, -Math.log1p(Math.exp(2)), -Math.log(2), -Math.log1p(Math.exp(-2)), 0],
      1e-12,
    );
    assertClose(
      softplus(x).toArray(),
      [0, Math.log1p(Math.exp(-2)), Math.log(2), Math.log1p(Math.exp(2)), 1000],
      1e-12,
    );
    assert.deepEqual(relu(t([-1, 0, 2])).toArray(), [0, 0, 2]);
    // PReLU with one slope per channel: channel 0 slope 0.1, channel 1 slope 0.5.
    assertClose(prelu(t([-1, 2, -4, 3], [1, 2, 2]), t([0.1, 0.5])).toArray(), [-0.1, 2, -2, 3]);
    assert.deepEqual(clamp(t([-2, 0.5, 3]), 0, 1).toArray(), [0, 0.5, 1]);
    assert.deepEqual(clamp(t([-2, 0.5, 3]), null, 1).toArray(), [-2, 0.5, 1]);
  }));

test('softmax and log-softmax over the channel dimension', () =>
  tidy(() => {
    const x = tensor(new Float64Array([1, 2, 3, 1000, 1000, 1000]), [2, 3]);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    assertClose(
      softmax(x, 1).toArray(),
      [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z, 1 / 3, 1 / 3, 1 / 3],
      1e-12,
    );
    assertClose(
      logSoftmax(x, 1).toArray(),
      [1 - Math.log(z), 2 - Math.log(z), 3 - Math.log(z), -Math.log(3), -Math.log(3), -Math.log(3)],
      1e-12,
    );
  }));

test('comparisons, where, minimum / maximum', () =>
  tidy(() => {
    const a = t([1, 5, 3]);
    assert.deepEqual(gt(a, 2).toArray(), [0, 1, 1]);
    assert.equal(gt(a, 2).dtype, 'bool');
    assert.deepEqual(le(a, t([1, 4, 4])).toArray(), [1, 0, 1]);
    assert.deepEqual(eq(a, 5).toArray(), [0, 1, 0]);
    assert.deepEqual(where(gt(a, 2), a, 0).toArray(), [0, 5, 3]);
    assert.deepEqual(where(gt(a, 2), -1, a).toArray(), [1, -1, -1]);
    assert.deepEqual(where(gt(a, 2), t([7, 8, 9]), t([4, 4, 4])).toArray(), [4, 8, 9]);
    assert.deepEqual(minimum(a, t([2, 2, 2])).toArray(), [1, 2, 2]);
    assert.deepEqual(maximum(a, t([2, 2, 2])).toArray(), [2, 5, 3]);
  }));

test('reductions', () =>
  tidy(() => {
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.equal(sum(a).item(), 21);
    assert.deepEqual(sum(a, [0]).toArray(), [5, 7, 9]);
    assert.deepEqual(sum(a, [1], true).shape, [2, 1]);
    assert.deepEqual(mean(a, [1]).toArray(), [2, 5]);
    assert.equal(mean(a).item(), 3.5);
    assert.equal(max(a).item(), 6);
    assert.equal(min(a).item(), 1);
    assert.deepEqual(amax(a, [1]).toArray(), [3, 6]);
    assert.deepEqual(argmax(t([1, 9, 3, 7, 2, 8], [2, 3]), 1).toArray(), [1, 2]);
    assertClose(
      logsumexp(tensor(new Float64Array([0, 0, 1000, 1000]), [2, 2]), [1]).toArray(),
      [Math.log(2), 1000 + Math.log(2)],
      1e-12,
    );
  }));

test('shape ops', () =>
  tidy(() => {
    const a = t([0, 1, 2, 3, 4, 5], [2, 3]);
    assert.deepEqual(reshape(a, [3, 2]).shape, [3, 2]);
    assert.deepEqual(transpose(a, 0, 1).contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(permute(a, [1, 0]).contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(slice(a, 1, 1, 3).contiguous().toArray(), [1, 2, 4, 5]);
    assert.deepEqual(slice(a, 1, 0, 3, 2).contiguous().toArray(), [0, 2, 3, 5]);
    assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
    assert.deepEqual(cat([t([1], [1, 1]), t([2, 3], [1, 2])], 1).toArray(), [1, 2, 3]);
    assert.deepEqual(stack([t([1, 2]), t([3, 4])], 1).toArray(), [1, 3, 2, 4]);
    assert.deepEqual(flip(a, [1]).toArray(), [2, 1, 0, 5, 4, 3]);
    assert.deepEqual(
      chunk(t([1, 2, 3, 4]), 2).map((c) => c.toArray()),
      [
        [1, 2],
        [3, 4],
      ],
    );
    assert.deepEqual(pad(t([1, 2]), [1, 2], 'constant', 9).toArray(), [9, 1, 2, 9, 9]);
    const v = reshape(arange(0, 8), [1, 1, 2, 2, 2]);
    assert.deepEqual(pad(v, [1, 0, 0, 0, 0, 0], 'replicate').shape, [1, 1, 2, 2, 3]);
    assert.deepEqual(pad(v, [1, 0, 0, 0, 0, 0], 'replicate').toArray().slice(0, 3), [0, 0, 1]);
    assert.deepEqual(pad(v, [1, 0, 0, 0, 0, 0], 'reflect').toArray().slice(0, 3), [1, 0, 1]);
    assert.deepEqual(oneHot(tensor(new BigInt64Array([0n, 2n])), 3).toArray(), [1, 0, 0, 0, 0, 1]);
    assert.deepEqual(matmul(t([1, 2, 3, 4], [2, 2]), t([5, 6], [2, 1])).toArray(), [17, 39]);
  }));

test('creation, casts and seeded randomness', () =>
  tidy(() => {
    assert.deepEqual(zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(ones([2], 'int32').toTypedArray(), new Int32Array([1, 1]));
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(arange(0, 5, 2).toArray(), [0, 2, 4]);
    assert.deepEqual(cast(t([1.7, -1.2]), 'int32').toArray(), [1, -1]);
    assert.equal(cast(t([1]), 'float64').dtype, 'float64');
    manualSeed(42);
    const r1 = rand([5]).toArray();
    const n1 = randn([5]).toArray();
    manualSeed(42);
    assert.deepEqual(rand([5]).toArray(), r1);
    assert.deepEqual(randn([5]).toArray(), n1);
    assert.ok(r1.every((v) => v >= 0 && v < 1));
    const d = dropout(ones([1000]), 0.5, true).toArray();
    assert.ok(
      d.every((v) => v === 0 || v === 2),
      'dropout scales kept values by 1/(1-p)',
    );
    assert.deepEqual(dropout(ones([3]), 0.5, false).toArray(), [1, 1, 1]);
  }));

test('conv3d and transposed conv3d by hand', () =>
  tidy(() => {
    // A 3×3×3 box filter over a 3×3×3 input of 0..26 with padding 1: the centre voxel
    // sees the whole input, Σ 0..26 = 351; the corner (0,0,0) sees a 2×2×2 block.
    const x = reshape(arange(0, 27), [1, 1, 3, 3, 3]);
    const w = ones([1, 1, 3, 3, 3]);
    for (const backend of ['onednn', 'stock'] as const) {
      const y = conv3d(x, w, t([0.5]), { padding: 1, backend });
      assert.deepEqual(y.shape, [1, 1, 3, 3, 3]);
      const yv = y.toArray();
      assert.equal(yv[13], 351.5, backend);
      assert.equal(yv[0], 0 + 1 + 3 + 4 + 9 + 10 + 12 + 13 + 0.5, backend);
      // Transposed, kernel 2 stride 2: each input voxel becomes a 2×2×2 block scaled by the weights.
      const z = convTranspose3d(t([1, 2], [1, 1, 1, 1, 2]), reshape(arange(1, 9), [1, 1, 2, 2, 2]), null, {
        stride: 2,
        backend,
      });
      assert.deepEqual(z.shape, [1, 1, 2, 2, 4]);
      assert.deepEqual(z.toArray(), [1, 2, 2, 4, 3, 4, 6, 8, 5, 6, 10, 12, 7, 8, 14, 16], backend);
    }
    // Stride 2 halves each side.
    assert.deepEqual(
      conv3d(ones([1, 1, 8, 8, 8]), ones([4, 1, 3, 3, 3]), null, { stride: 2, padding: 1 }).shape,
      [1, 4, 4, 4, 4],
    );
  }));

test('batch norm: batch statistics in training, running statistics in eval', () =>
  tidy(() => {
    // Two channels, values per channel [1, 3] and [2, 6] → means 2 and 4, biased variances 1 and 4.
    const x = reshape(t([1, 3, 2, 6]), [1, 2, 2, 1, 1]);
    const rm = zeros([2]),
      rv = ones([2]);
    const y = batchNorm(x, ones([2]), zeros([2]), rm, rv, true, 0.1, 0);
    assertClose(y.toArray(), [-1, 1, -1, 1], 1e-5);
    // Running stats: 0.9·old + 0.1·batch, with the unbiased variance (n = 2: 2 and 8).
    assertClose(rm.toArray(), [0.2, 0.4], 1e-6);
    assertClose(rv.toArray(), [0.9 + 0.2, 0.9 + 0.8], 1e-6);
    const e = batchNorm(x, t([2, 1]), t([0, 10]), t([1, 2]), t([4, 1]), false, 0.1, 0);
    assertClose(e.toArray(), [0, 2, 10, 14], 1e-6);
  }));

test('max-pool with indices, max-unpool, up-sampling', () =>
  tidy(() => {
    const x = reshape(t([1, 8, 3, 4, 5, 6, 7, 2]), [1, 1, 2, 2, 2]);
    const [p, idx] = maxPool3dWithIndices(x, 2);
    assert.deepEqual(p.toArray(), [8]);
    assert.deepEqual(idx.toArray(), [1]);
    assert.deepEqual(maxUnpool3d(p, idx, [2, 2, 2], 2).toArray(), [0, 8, 0, 0, 0, 0, 0, 0]);
    const n = upsampleNearest3d(reshape(t([1, 2]), [1, 1, 1, 1, 2]), { scale: 2 });
    assert.deepEqual(n.shape, [1, 1, 2, 2, 4]);
    assert.deepEqual(n.toArray().slice(0, 4), [1, 1, 2, 2]);
    const l = upsampleTrilinear3d(reshape(t([0, 4]), [1, 1, 1, 1, 2]), { size: [1, 1, 3] }, true);
    assertClose(l.toArray(), [0, 2, 4]);
  }));

test('noGrad turns recording off and restores it, also on throw', () => {
  const a = tensor([1, 2], [2], { requiresGrad: true });
  const b = noGrad(() => a.mul(2));
  assert.equal(b.requiresGrad, false);
  assert.throws(
    () =>
      noGrad(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(isGradEnabled(), true);
  const c = a.mul(2);
  assert.equal(c.requiresGrad, true);
  for (const x of [a, b, c]) x.dispose();
});

test('autograd: backward, grad accumulation, zeroGrad', () => {
  const a = tensor([1, 2, 3], [3], { requiresGrad: true });
  tidy(() => a.mul(a).sum().backward());
  tidy(() => a.mul(a).sum().backward());
  assert.deepEqual(
    tidy(() => a.grad!.toArray()),
    [4, 8, 12],
  );
  a.zeroGrad();
  assert.equal(a.grad, null);
  assert.equal(a.isLeaf, true);
  a.dispose();
});
