// bf16 convolutions against an independent truth: libtorch's float64 convolution of the same
// inputs rounded to bfloat16 (what a bf16 kernel multiplies, accumulating in float32). Outputs and
// input gradients are bf16 (about 2⁻⁸ relative); weight and bias gradients are float32 sums of
// products of bf16 values, so the oneDNN path must match them to float32 accuracy.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  tensor,
  tidy,
  conv3d,
  convTranspose3d,
  cast,
  engineInfo,
  withPrecision,
  computePrecision,
  resolvePrecision,
  cpuPrecision,
  type Tensor,
  type Conv3dOptions,
  type ConvTranspose3dOptions,
} from '../../src/index.js';
import { assertClose, randomArray } from '../helpers.js';

/** bf16 carries 8 significant bits: a rounded value is within 2⁻⁹ of the exact one, a sum of them a bit more. */
const BF16_TOL = 2 ** -8;
const onednnApi = engineInfo().bf16ConvPath === 'onednn-api';

type Conv = (x: Tensor, w: Tensor, b: Tensor | null, precision: 'fp32' | 'bf16') => Tensor;

const roundBf16 = (t: Tensor): Tensor => cast(cast(t, 'bfloat16'), 'float64');
const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());

interface Result {
  out: Float64Array;
  grads: Float64Array[];
  dtypes: string[];
}

/** The bf16 convolution, or (reference) the float64 one on bf16-rounded inputs. */
function run(f: Conv, shapes: number[][], reference: boolean, withBias: boolean): Result {
  return tidy(() => {
    const xs = shapes.map((s, k) => {
      const t = tensor(
        randomArray(
          s.reduce((a, b) => a * b, 1),
          71 + k,
        ),
        s,
      );
      // The bias is added in float32 by both; x and w are what the bf16 kernel rounds.
      return reference ? (k < 2 ? roundBf16(t) : t) : cast(t, 'float32');
    });
    for (const x of xs) x.requiresGrad = true;
    const out = f(xs[0], xs[1], withBias ? xs[2] : null, reference ? 'fp32' : 'bf16');
    const r = cast(tensor(randomArray(out.size, 5), out.shape), reference ? 'float64' : 'float32');
    // The upstream gradient reaches a bf16 output rounded to bf16: the reference rounds it too.
    out
      .mul(reference ? roundBf16(r) : r)
      .sum()
      .backward();
    const used = xs.slice(0, withBias ? 3 : 2);
    return {
      out: f64(out),
      grads: used.map((x) => f64(x.grad!)),
      dtypes: [out.dtype, ...used.map((x) => x.grad!.dtype)],
    };
  });
}

function compare(name: string, bf16: Result, ref: Result, groups = 1): void {
  assert.deepEqual(bf16.dtypes.slice(0, 3), ['bfloat16', 'float32', 'float32'], `${name}: output and gradient dtypes`);
  // Grouped convolutions compute in float32 on the unrounded inputs (see conv_aten.cc): further
  // from the rounded-input reference, their weight gradient float32-exact but for that difference.
  // ATen's bf16 path (PyTorch 2.x builds) also rounds the bias to bf16, as autocast does.
  const tol = groups > 1 ? 2 ** -6 : onednnApi ? BF16_TOL : 2 * BF16_TOL;
  // oneDNN's own API returns the weight gradient in float32; ATen's bf16 path rounds it to bf16.
  const weightTol = groups > 1 ? 2 ** -6 : onednnApi ? 1e-5 : BF16_TOL;
  assertClose(bf16.out, ref.out, tol, `${name}: output`);
  assertClose(bf16.grads[0], ref.grads[0], tol, `${name}: input gradient`);
  assertClose(bf16.grads[1], ref.grads[1], weightTol, `${name}: weight gradient`);
  // The bias's gradient: summed in float32 by the oneDNN path, rounded to bf16 by ATen's.
  const biasTol = groups > 1 || onednnApi ? 1e-5 : BF16_TOL;
  if (bf16.grads[2]) assertClose(bf16.grads[2], ref.grads[2], biasTol, `${name}: bias gradient`);
}

const convCases: [string, number[], number[], Conv3dOptions][] = [
  ['batch 1, 16→16 at 8³', [1, 16, 8, 8, 8], [16, 16, 3, 3, 3], { padding: 1 }],
  ['batch 2, stride 2', [2, 3, 9, 8, 7], [4, 3, 3, 3, 3], { stride: 2, padding: 1 }],
  ['1×1×1 kernel (a network head)', [1, 8, 4, 5, 6], [3, 8, 1, 1, 1], {}],
  ['5×5×5 kernel, pad 2 (V-Net)', [1, 4, 6, 6, 6], [4, 4, 5, 5, 5], { padding: 2 }],
  ['dilation 2', [1, 2, 7, 7, 7], [2, 2, 3, 3, 3], { dilation: 2, padding: 2 }],
  ['groups 2 (through ATen)', [1, 4, 5, 5, 5], [4, 2, 3, 3, 3], { groups: 2, padding: 1 }],
  ['anisotropic stride and padding', [1, 2, 6, 8, 8], [3, 2, 1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }],
];

for (const [name, xs, ws, opts] of convCases) {
  test(`conv3d bf16 = float64 on bf16-rounded inputs: ${name}`, () => {
    const f: Conv = (x, w, b, precision) => conv3d(x, w, b, { ...opts, precision });
    const shapes = [xs, ws, [ws[0]]];
    compare(name, run(f, shapes, false, true), run(f, shapes, true, true), opts.groups);
  });
}

const transposedCases: [string, number[], number[], ConvTranspose3dOptions][] = [
  ['kernel 2 stride 2 (U-Net up-convolution)', [1, 8, 4, 4, 4], [8, 4, 2, 2, 2], { stride: 2 }],
  [
    'kernel 3 stride 2 pad 1 output padding 1',
    [2, 2, 3, 3, 3],
    [2, 3, 3, 3, 3],
    { stride: 2, padding: 1, outputPadding: 1 },
  ],
  ['groups 2 (through ATen)', [1, 4, 3, 3, 3], [4, 1, 2, 2, 2], { stride: 2, groups: 2 }],
];

for (const [name, xs, ws, opts] of transposedCases) {
  test(`convTranspose3d bf16 = float64 on bf16-rounded inputs: ${name}`, () => {
    const f: Conv = (x, w, b, precision) => convTranspose3d(x, w, b, { ...opts, precision });
    const shapes = [xs, ws, [ws[1] * (opts.groups ?? 1)]];
    compare(name, run(f, shapes, false, true), run(f, shapes, true, true), opts.groups);
  });
}

test('a channels-last bf16 activation (what a bf16 layer writes) convolves like its float64 values', () =>
  tidy(() => {
    const x = cast(tensor(randomArray(2 * 3 * 6 * 5 * 4, 21), [2, 3, 6, 5, 4]), 'float32');
    const w1 = cast(tensor(randomArray(8 * 3 * 27, 22), [8, 3, 3, 3, 3]), 'float32');
    const w2 = cast(tensor(randomArray(4 * 8 * 27, 23), [4, 8, 3, 3, 3]), 'float32');
    const h = conv3d(x, w1, null, { padding: 1, precision: 'bf16' });
    const y = conv3d(h, w2, null, { padding: 1, precision: 'bf16' });
    const ref = conv3d(cast(h, 'float64'), roundBf16(w2), null, { padding: 1, precision: 'fp32' });
    assertClose(f64(y), f64(ref), BF16_TOL, 'second convolution');
  }));

test('bad geometry in a bf16 convolution is an error, not a crash', () =>
  tidy(() => {
    const x = tensor(new Float32Array(2 * 27), [1, 2, 3, 3, 3]);
    const w = tensor(new Float32Array(2 * 2 * 27), [2, 2, 3, 3, 3]);
    assert.throws(() => conv3d(x, w, null, { stride: 0, precision: 'bf16' }), { name: 'TorchError' });
  }));

test('a bf16 input keeps its dtype in its gradient; a convolution outside bf16 takes it as float32', () =>
  tidy(() => {
    const x = cast(tensor(randomArray(2 * 64, 3), [1, 2, 4, 4, 4]), 'bfloat16');
    x.requiresGrad = true;
    const w = cast(tensor(randomArray(2 * 2 * 27, 4), [2, 2, 3, 3, 3]), 'float32');
    withPrecision('bf16', () => conv3d(x, w, null, { padding: 1 }))
      .sum()
      .backward();
    assert.equal(x.grad!.dtype, 'bfloat16');
    const y = conv3d(x, w, null, { padding: 1 });
    assert.equal(y.dtype, 'float32');
  }));

test('withPrecision scopes the compute precision and restores it on throw', () => {
  assert.equal(computePrecision(), 'fp32');
  assert.throws(() =>
    withPrecision('bf16', () => {
      assert.equal(computePrecision(), 'bf16');
      throw new Error('inside');
    }),
  );
  assert.equal(computePrecision(), 'fp32');
  assert.equal(resolvePrecision('fp32'), 'fp32');
  assert.equal(resolvePrecision('bf16', 'cuda'), 'bf16');
  assert.equal(resolvePrecision('auto', 'cuda'), 'fp32');
  // Without bf16 instructions the answer is fp32 without measuring; with them, whichever was faster.
  const choice = cpuPrecision();
  assert.equal(resolvePrecision('auto'), choice.precision);
  if (!/bf16|amx/.test(engineInfo().onednn.isa)) assert.equal(choice.precision, 'fp32');
  else assert.equal(choice.precision === 'bf16', choice.bf16Ms! * 1.25 <= choice.fp32Ms!, choice.reason);
});

test("bf16 convolutions report bad input in the caller's terms", () =>
  tidy(() => {
    const x = tensor(new Float32Array(2 * 27), [1, 2, 3, 3, 3]);
    assert.throws(() => conv3d(x, tensor(new Float32Array(3 * 27), [1, 3, 3, 3, 3]), null, { precision: 'bf16' }), {
      name: 'TorchError',
      message: /conv3d.*input has 2 channels/,
    });
    assert.throws(
      () => conv3d(cast(x, 'float64'), tensor(new Float32Array(2 * 27), [1, 2, 3, 3, 3]), null, { precision: 'bf16' }),
      { name: 'TorchError', message: /float32 or bfloat16 input/ },
    );
  }));

test("the 'auto' choice is measured once per machine and remembered: every later process makes the same one", () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-precision-'));
  try {
    const ask = () => {
      const script = "import { cpuPrecision } from './src/index.ts'; console.log(JSON.stringify(cpuPrecision()));";
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, COMBOSEG_CACHE_DIR: dir },
        encoding: 'utf8',
      });
      return JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
        precision: string;
        cachedIn: string;
        reason: string;
      };
    };
    const first = ask();
    assert.equal(first.cachedIn, join(dir, 'precision.json'));
    const file = JSON.parse(readFileSync(first.cachedIn, 'utf8')) as Record<string, { precision: string }>;
    const [key] = Object.keys(file);
    assert.equal(file[key].precision, first.precision);
    // Whatever the file says for this machine is what the next process uses (no second measurement).
    const other = first.precision === 'bf16' ? 'fp32' : 'bf16';
    writeFileSync(first.cachedIn, JSON.stringify({ [key]: { ...file[key], precision: other, reason: 'edited' } }));
    const second = ask();
    assert.equal(second.precision, other);
    assert.equal(second.reason, 'edited');
    // A damaged file is measured anew and rewritten.
    writeFileSync(first.cachedIn, '{ not json');
    const third = ask();
    const rewritten = JSON.parse(readFileSync(first.cachedIn, 'utf8')) as Record<string, { precision: string }>;
    assert.equal(rewritten[key].precision, third.precision);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
