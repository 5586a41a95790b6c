// The oneDNN convolution path (forward and backward) against libtorch's stock
// autograd path run in float64 — including the batch-1, small-N·C·D·H shapes
// where libtorch itself would pick its slow native kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  tidy,
  conv3d,
  convTranspose3d,
  cast,
  type Tensor,
  type Conv3dOptions,
  type ConvTranspose3dOptions,
} from '../../src/index.js';
import { assertClose, randomArray } from '../helpers.js';

interface Result {
  out: Float64Array;
  grads: Float64Array[];
}

function run(
  f: (x: Tensor, w: Tensor, b: Tensor | null) => Tensor,
  shapes: number[][],
  dtype: 'float32' | 'float64',
  withBias: boolean,
): Result {
  return tidy(() => {
    const vals = shapes.map((s, k) =>
      randomArray(
        s.reduce((a, b) => a * b, 1),
        31 + k,
      ),
    );
    const xs = vals.map((v, k) => cast(tensor(v, shapes[k]), dtype));
    for (const x of xs) x.requiresGrad = true;
    const out = f(xs[0], xs[1], withBias ? xs[2] : null);
    const r = cast(tensor(randomArray(out.size, 5), out.shape), dtype);
    out.mul(r).sum().backward();
    const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());
    return { out: f64(out), grads: xs.slice(0, withBias ? 3 : 2).map((x) => f64(x.grad!)) };
  });
}

function compare(name: string, a: Result, b: Result): void {
  assertClose(a.out, b.out, 2e-4, `${name}: output`);
  a.grads.forEach((g, k) => assertClose(g, b.grads[k], 2e-4, `${name}: gradient ${['input', 'weight', 'bias'][k]}`));
}

const convCases: [string, number[], number[], Conv3dOptions][] = [
  ['batch 1, 16→16 at 8³ (libtorch would pick slow3d)', [1, 16, 8, 8, 8], [16, 16, 3, 3, 3], { padding: 1 }],
  ['batch 2, stride 2', [2, 3, 9, 8, 7], [4, 3, 3, 3, 3], { stride: 2, padding: 1 }],
  ['1×1×1 kernel', [1, 8, 4, 5, 6], [3, 8, 1, 1, 1], {}],
  ['5×5×5 kernel, pad 2 (V-Net)', [1, 4, 6, 6, 6], [4, 4, 5, 5, 5], { padding: 2 }],
  ['stride-2 2×2×2 down-convolution', [1, 4, 8, 8, 8], [8, 4, 2, 2, 2], { stride: 2 }],
  ['dilation 2', [1, 2, 7, 7, 7], [2, 2, 3, 3, 3], { dilation: 2, padding: 2 }],
  ['groups 2', [1, 4, 5, 5, 5], [4, 2, 3, 3, 3], { groups: 2, padding: 1 }],
  ['anisotropic stride and padding', [1, 2, 6, 8, 8], [3, 2, 1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }],
];

for (const [name, xs, ws, opts] of convCases) {
  for (const bias of [true, false]) {
    test(`conv3d oneDNN = stock: ${name}${bias ? ', bias' : ''}`, () => {
      const shapes = [xs, ws, [ws[0]]];
      const onednn = run((x, w, b) => conv3d(x, w, b, { ...opts, backend: 'onednn' }), shapes, 'float32', bias);
      const stock = run((x, w, b) => conv3d(x, w, b, { ...opts, backend: 'stock' }), shapes, 'float64', bias);
      compare(name, onednn, stock);
    });
  }
}

const transposedCases: [string, number[], number[], ConvTranspose3dOptions][] = [
  ['kernel 2 stride 2 (U-Net up-convolution)', [1, 8, 4, 4, 4], [8, 4, 2, 2, 2], { stride: 2 }],
  ['kernel 3 stride 1 pad 1', [2, 3, 5, 4, 6], [3, 2, 3, 3, 3], { padding: 1 }],
  [
    'kernel 3 stride 2 pad 1 output padding 1',
    [1, 2, 3, 3, 3],
    [2, 3, 3, 3, 3],
    { stride: 2, padding: 1, outputPadding: 1 },
  ],
  ['groups 2', [1, 4, 3, 3, 3], [4, 1, 2, 2, 2], { stride: 2, groups: 2 }],
];

for (const [name, xs, ws, opts] of transposedCases) {
  for (const bias of [true, false]) {
    test(`convTranspose3d oneDNN = stock: ${name}${bias ? ', bias' : ''}`, () => {
      const shapes = [xs, ws, [ws[1] * (opts.groups ?? 1)]];
      const onednn = run(
        (x, w, b) => convTranspose3d(x, w, b, { ...opts, backend: 'onednn' }),
        shapes,
        'float32',
        bias,
      );
      const stock = run((x, w, b) => convTranspose3d(x, w, b, { ...opts, backend: 'stock' }), shapes, 'float64', bias);
      assert.equal(onednn.out.length, stock.out.length);
      compare(name, onednn, stock);
    });
  }
}

test('oneDNN conv3d rejects a channel mismatch and non-float32 input with libtorch-style errors', () =>
  tidy(() => {
    const x = tensor(new Float32Array(2 * 27), [1, 2, 3, 3, 3]);
    assert.throws(() => conv3d(x, tensor(new Float32Array(3 * 27), [1, 3, 3, 3, 3])), {
      name: 'TorchError',
      message: /input has 2 channels/,
    });
    assert.throws(
      () =>
        conv3d(cast(x, 'float64'), cast(tensor(new Float32Array(2 * 27), [1, 2, 3, 3, 3]), 'float64'), null, {
          backend: 'onednn',
        }),
      { name: 'TorchError', message: /float32/ },
    );
    assert.throws(() => conv3d(tensor(new Float32Array(4), [2, 2]), x), { name: 'ComboSegError', message: /5-D/ });
  }));
