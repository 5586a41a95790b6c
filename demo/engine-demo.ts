// End-to-end check of the engine (until the training pipeline of issue 6 lands):
// synthetic 3-D phantoms with a small bright "organ", a small encoder–decoder
// built from engine ops, trained with a Combo-style loss (β-weighted BCE from
// log-sigmoid, minus soft Dice) on the oneDNN convolution path, then Dice on
// phantoms it has not seen.
import {
  tensor,
  tidy,
  noGrad,
  manualSeed,
  zeros,
  ones,
  conv3d,
  batchNorm,
  relu,
  maxPool3d,
  upsampleNearest3d,
  logSigmoid,
  sigmoid,
  engineInfo,
  type Tensor,
} from '../src/index.js';
import { Progress } from '../src/util/progress.js';

const SIZE = 32;
const STEPS = Number(process.env.DEMO_STEPS ?? 300);

/** A noisy volume with a sphere (the target organ) and a non-target blob of similar brightness but other shape. */
function phantom(seed: number): { image: Float32Array; mask: Float32Array } {
  let s = seed;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const image = new Float32Array(SIZE ** 3),
    mask = new Float32Array(SIZE ** 3);
  const c = [8 + rnd() * 16, 8 + rnd() * 16, 8 + rnd() * 16],
    r = 3 + rnd() * 3;
  const b = [8 + rnd() * 16, 8 + rnd() * 16, 8 + rnd() * 16];
  for (let z = 0, i = 0; z < SIZE; z++)
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++, i++) {
        const inSphere = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r;
        // a "normal active region"
        const inBar = Math.abs(z - b[0]) < 1.5 && Math.abs(y - b[1]) < 1.5 && Math.abs(x - b[2]) < 6;
        mask[i] = inSphere ? 1 : 0;
        image[i] = (inSphere ? 1 : inBar ? 0.9 : 0.1) + 0.15 * (rnd() - 0.5);
      }
  return { image, mask };
}

function param(shape: number[]): Tensor {
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1),
    fanOut = shape[0] * shape.slice(2).reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(6 / (fanIn + fanOut)); // Glorot uniform
  const p = noGrad(() => zeros(shape).uniform_(-limit, limit));
  p.requiresGrad = true;
  return p;
}

manualSeed(1);
const C = 8;
const w = {
  e1: param([C, 1, 3, 3, 3]),
  e2: param([2 * C, C, 3, 3, 3]),
  d1: param([C, 2 * C, 3, 3, 3]),
  out: param([1, C, 1, 1, 1]),
};
const bn = [C, 2 * C, C].map((n) => ({ g: ones([n]), b: zeros([n]), rm: zeros([n]), rv: ones([n]) }));
for (const x of bn) {
  x.g.requiresGrad = true;
  x.b.requiresGrad = true;
}
const params = [...Object.values(w), ...bn.flatMap((x) => [x.g, x.b])];

function forward(x: Tensor, training: boolean): Tensor {
  const block = (h: Tensor, wt: Tensor, k: number) =>
    relu(batchNorm(conv3d(h, wt, null, { padding: 1 }), bn[k].g, bn[k].b, bn[k].rm, bn[k].rv, training));
  let h = block(x, w.e1, 0);
  h = block(maxPool3d(h, 2), w.e2, 1);
  h = block(upsampleNearest3d(h, { scale: 2 }), w.d1, 2);
  return conv3d(h, w.out);
}

/** Combo loss, eq. 3 of the paper, from logits: α·wBCE − (1−α)·Dice. */
function combo(logits: Tensor, t: Tensor, alpha = 0.5, beta = 0.5): Tensor {
  const ce = t
    .mul(logSigmoid(logits))
    .mul(beta)
    .add(
      t
        .neg()
        .add(1)
        .mul(logSigmoid(logits.neg()))
        .mul(1 - beta),
    )
    .mean()
    .neg();
  const p = sigmoid(logits);
  const dice = p.mul(t).sum().mul(2).add(1).div(p.sum().add(t.sum()).add(1));
  return ce.mul(alpha).sub(dice.mul(1 - alpha));
}

const info = engineInfo();
console.log(
  `comboseg engine demo: libtorch ${info.torchVersion}, ${info.threads} threads, ` +
    `oneDNN ${info.mkldnn}, tcmalloc ${info.tcmalloc}`,
);
const train = Array.from({ length: 8 }, (_, i) => phantom(100 + i));
const bar = new Progress({ label: 'training', total: STEPS, unit: 'step' });
const adam = params.map((p) => ({ m: zeros(p.shape), v: zeros(p.shape) }));
let firstLoss = 0,
  lastLoss = 0;
for (let step = 1; step <= STEPS; step++) {
  const { image, mask } = train[step % train.length];
  const loss = tidy(() => {
    const l = combo(forward(tensor(image, [1, 1, SIZE, SIZE, SIZE]), true), tensor(mask, [1, 1, SIZE, SIZE, SIZE]));
    l.backward();
    noGrad(() =>
      params.forEach((p, k) => {
        // Adam, lr 1e-2
        const g = p.grad;
        if (!g) throw new Error('engine demo: a parameter has no gradient after backward');
        adam[k].m.mul_(0.9).add_(g, 0.1);
        adam[k].v.mul_(0.999).addcmul_(g, g, 0.001);
        const mHat = adam[k].m.div(1 - 0.9 ** step),
          vHat = adam[k].v.div(1 - 0.999 ** step);
        p.add_(mHat.div(vHat.sqrt().add(1e-8)), -1e-2);
        p.zeroGrad();
      }),
    );
    return l.item();
  });
  if (step === 1) firstLoss = loss;
  lastLoss = loss;
  bar.tick(1, `loss ${loss.toFixed(4)}`);
}

const dices = Array.from({ length: 4 }, (_, i) => phantom(900 + i)).map(({ image, mask }) =>
  tidy(() =>
    noGrad(() => {
      const pred = sigmoid(forward(tensor(image, [1, 1, SIZE, SIZE, SIZE]), false))
        .gt(0.5)
        .cast('float32');
      const t = tensor(mask, [1, 1, SIZE, SIZE, SIZE]);
      return pred.mul(t).sum().mul(2).div(pred.sum().add(t.sum())).item();
    }),
  ),
);
console.log(
  `loss ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)}; ` +
    `Dice on 4 unseen phantoms: ${dices.map((d) => d.toFixed(3)).join(', ')}`,
);
if (!(lastLoss < firstLoss) || dices.some((d) => !(d > 0.5))) {
  console.error('demo: the network did not learn the phantom organ');
  process.exit(1);
}
