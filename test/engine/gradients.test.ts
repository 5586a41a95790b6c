// Autograd against central finite differences, in float64, for every
// differentiable op the toolkit uses.
import { test } from 'node:test';
import {
  tensor,
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
  tanh,
  relu,
  prelu,
  clamp,
  where,
  gt,
  minimum,
  maximum,
  abs,
  sum,
  mean,
  logsumexp,
  amax,
  reshape,
  permute,
  slice,
  cat,
  pad,
  flip,
  matmul,
  conv3d,
  convTranspose3d,
  batchNorm,
  maxPool3dWithIndices,
  maxUnpool3d,
  maxPool3d,
  upsampleNearest3d,
  upsampleTrilinear3d,
  softmax,
  logSoftmax,
  rsub,
  sqrt,
  gather,
  type Tensor,
} from '../../src/index.js';
import { checkGradient, randomArray } from '../helpers.js';

const positive = (n: number, seed: number) => randomArray(n, seed, 0.5, 2);
// Values kept away from kinks (relu at 0, clamp bounds, max ties).
const awayFromZero = (n: number, seed: number) => randomArray(n, seed, 0.2, 1).map((v, i) => (i % 2 ? v : -v));

const cases: [string, (...x: Tensor[]) => Tensor, { shape: number[]; values?: Float64Array }[]][] = [
  ['add (broadcast)', (a, b) => add(a, b), [{ shape: [2, 3] }, { shape: [3] }]],
  ['sub', (a, b) => sub(a, b), [{ shape: [2, 3] }, { shape: [2, 3] }]],
  ['mul (broadcast)', (a, b) => mul(a, b), [{ shape: [2, 3] }, { shape: [2, 1] }]],
  ['div', (a, b) => div(a, b), [{ shape: [4] }, { shape: [4], values: positive(4, 1) }]],
  ['rsub', (a) => rsub(a, 1), [{ shape: [4] }]],
  ['pow scalar', (a) => pow(a, 3), [{ shape: [5] }]],
  ['pow tensor', (a, b) => pow(a, b), [{ shape: [4], values: positive(4, 2) }, { shape: [4] }]],
  ['exp', (a) => exp(a), [{ shape: [5] }]],
  ['log', (a) => log(a), [{ shape: [5], values: positive(5, 3) }]],
  ['sqrt', (a) => sqrt(a), [{ shape: [5], values: positive(5, 4) }]],
  ['abs', (a) => abs(a), [{ shape: [6], values: awayFromZero(6, 5) }]],
  ['sigmoid', (a) => sigmoid(a), [{ shape: [6] }]],
  ['logSigmoid', (a) => logSigmoid(a), [{ shape: [6], values: randomArray(6, 6, -30, 30) }]],
  ['softplus', (a) => softplus(a), [{ shape: [6] }]],
  ['tanh', (a) => tanh(a), [{ shape: [6] }]],
  ['relu', (a) => relu(a), [{ shape: [6], values: awayFromZero(6, 7) }]],
  ['prelu', (a, w) => prelu(a, w), [{ shape: [1, 2, 3], values: awayFromZero(6, 8) }, { shape: [2] }]],
  [
    'clamp',
    (a) => clamp(a, -0.5, 0.5),
    [{ shape: [8], values: randomArray(8, 9, -1, 1).map((v) => (Math.abs(Math.abs(v) - 0.5) < 0.05 ? v * 0.5 : v)) }],
  ],
  ['where', (a, b) => where(gt(a, 0), a, b), [{ shape: [6], values: awayFromZero(6, 10) }, { shape: [6] }]],
  [
    'minimum / maximum',
    (a, b) => add(minimum(a, b), mul(maximum(a, b), 2)),
    [{ shape: [5] }, { shape: [5], values: randomArray(5, 11, 1.5, 2) }],
  ],
  ['sum over dims', (a) => sum(a, [1], true), [{ shape: [2, 3, 2] }]],
  ['mean', (a) => mean(a, [0, 2]), [{ shape: [2, 3, 2] }]],
  ['amax', (a) => amax(a, [1]), [{ shape: [2, 4] }]],
  ['logsumexp', (a) => logsumexp(a, [1]), [{ shape: [2, 4] }]],
  ['softmax', (a) => softmax(a, 1), [{ shape: [2, 3, 2] }]],
  ['logSoftmax', (a) => logSoftmax(a, 1), [{ shape: [2, 3, 2] }]],
  ['reshape / permute', (a) => permute(reshape(a, [2, 3, 2]), [2, 0, 1]), [{ shape: [12] }]],
  ['slice (step 2)', (a) => slice(a, 1, 1, 5, 2), [{ shape: [2, 6] }]],
  ['cat', (a, b) => cat([a, b], 1), [{ shape: [2, 2] }, { shape: [2, 3] }]],
  ['pad constant', (a) => pad(a, [1, 2], 'constant', 3), [{ shape: [2, 3] }]],
  ['pad replicate', (a) => pad(a, [1, 1, 0, 1, 1, 0], 'replicate'), [{ shape: [1, 1, 2, 2, 2] }]],
  ['pad reflect', (a) => pad(a, [1, 1, 1, 0, 0, 1], 'reflect'), [{ shape: [1, 1, 3, 3, 3] }]],
  ['flip', (a) => flip(a, [0, 1]), [{ shape: [2, 3] }]],
  ['matmul', (a, b) => matmul(a, b), [{ shape: [2, 3] }, { shape: [3, 2] }]],
  ['gather', (a) => gather(a, 1, tensor(new BigInt64Array([2n, 0n, 1n, 1n]), [2, 2])), [{ shape: [2, 3] }]],
  [
    'conv3d (stride 1, pad 1, bias)',
    (x, w, b) => conv3d(x, w, b, { padding: 1 }),
    [{ shape: [1, 2, 3, 3, 3] }, { shape: [2, 2, 3, 3, 3] }, { shape: [2] }],
  ],
  [
    'conv3d (stride 2)',
    (x, w) => conv3d(x, w, null, { stride: 2, padding: 1 }),
    [{ shape: [2, 1, 4, 4, 4] }, { shape: [1, 1, 3, 3, 3] }],
  ],
  [
    'convTranspose3d (k2 s2, bias)',
    (x, w, b) => convTranspose3d(x, w, b, { stride: 2 }),
    [{ shape: [1, 2, 2, 2, 2] }, { shape: [2, 3, 2, 2, 2] }, { shape: [3] }],
  ],
  [
    'batchNorm (training)',
    (x, g, b) => batchNorm(x, g, b, null, null, true, 0.1, 1e-5),
    [{ shape: [2, 2, 2, 1, 2] }, { shape: [2] }, { shape: [2] }],
  ],
  [
    'maxPool3d',
    (x) => maxPool3d(x, 2),
    [{ shape: [1, 1, 2, 2, 4], values: Float64Array.from({ length: 16 }, (_, i) => ((i * 7) % 16) / 10) }],
  ],
  [
    'maxUnpool3d',
    (x) => {
      const [p, idx] = maxPool3dWithIndices(
        tensor(
          Float64Array.from({ length: 16 }, (_, i) => ((i * 7) % 16) / 10),
          [1, 1, 2, 2, 4],
        ),
        2,
      );
      return maxUnpool3d(mul(p, x), idx, [2, 2, 4], 2);
    },
    [{ shape: [1, 1, 1, 1, 2] }],
  ],
  ['upsampleNearest3d', (x) => upsampleNearest3d(x, { scale: 2 }), [{ shape: [1, 1, 1, 2, 2] }]],
  ['upsampleTrilinear3d', (x) => upsampleTrilinear3d(x, { size: [2, 3, 3] }), [{ shape: [1, 1, 2, 2, 2] }]],
];

for (const [name, f, inputs] of cases) {
  test(`gradient of ${name} matches finite differences`, () => checkGradient(name, f, inputs));
}
