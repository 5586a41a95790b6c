// Every loss against hand-computed values, an independent float64
// re-implementation (./reference.ts), finite differences, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, losses, ComboSegError, type Tensor } from '../../src/index.js';
import { assertClose, checkGradient, expectNoLeaks, randomArray } from '../helpers.js';
import { ref, type Batch } from './reference.js';

const LN2 = Math.log(2);

/** Logits 0 (p = ½) on two voxels of one channel with targets 1 and 0. */
function half(): [Tensor, Tensor] {
  return [tensor([0, 0], [1, 1, 2]), tensor([1, 0], [1, 1, 2])];
}

test('hand-computed values at p = ½, t = (1, 0)', () =>
  tidy(() => {
    const [x, t] = half();
    const v = (name: string, o: Record<string, unknown> = {}) => losses.create(name, o)(x, t).item();
    // Σpt = ½, Σp = 1, Σt = 1: Dice = (1 + 1)/(1 + 1 + 1) = ⅔; BCE = ln 2.
    assertClose([v('bce')], [LN2]);
    assertClose([v('dice')], [1 / 3]);
    assertClose([v('dice', { squared: true })], [1 - 2 / 2.5]); // (2·½ + 1)/(Σp² ½ + Σt² 1 + 1)
    assertClose([v('wbce', { beta: 0.5 })], [0.5 * LN2]);
    assertClose([v('combo')], [0.5 * 0.5 * LN2 - 0.5 * (2 / 3)]); // −0.160046
    assertClose([v('combo', { variant: 'keras-release' })], [0.5 * 0.375 * LN2 - 0.5 * (2 / 3)]); // weights ½ and ¼
    assertClose([v('combo', { alpha: 1, beta: 0.8 })], [0.5 * (0.8 * LN2 + 0.2 * LN2)]);
    assertClose([v('dce')], [1 / 3 + LN2]);
    assertClose([v('jaccard')], [1 - 1.5 / 2.5]);
    assertClose([v('tversky')], [1 - 1.5 / 2]); // TP = FP = FN = ½
    assertClose([v('tversky', { alpha: 0.3, beta: 0.7 })], [1 - 1.5 / (0.5 + 0.15 + 0.35 + 1)]);
    assertClose([v('focal')], [(0.25 * 0.25 * LN2 + 0.75 * 0.25 * LN2) / 2]);
    assertClose([v('sensspec')], [0.05 * 0.25 + 0.95 * 0.25]);
    assertClose([v('gdl')], [1 - (1 + 1e-5) / (2 + 1e-5)]);
  }));

test('hand-computed softmax cross entropies (labels and one-hot targets)', () =>
  tidy(() => {
    // Three voxels, two classes: logits (2, 0), (0, 0), (0, 1); labels 0, 0, 1.
    const x = tensor([2, 0, 0, 0, 0, 1], [1, 2, 3]);
    const labels = tensor(new Int32Array([0, 0, 1]), [1, 3]);
    const l = [Math.log1p(Math.exp(-2)), LN2, Math.log1p(Math.exp(-1))];
    assertClose([losses.create('ce')(x, labels).item()], [(l[0] + l[1] + l[2]) / 3]);
    const oneHot = tensor([1, 1, 0, 0, 0, 1], [1, 2, 3]);
    assertClose([losses.create('ce')(x, oneHot).item()], [(l[0] + l[1] + l[2]) / 3]);
    // Inverse frequency: counts (2, 1), N = 3, C = 2 → w = (3/4, 3/2).
    assertClose([losses.create('wce')(x, labels).item()], [(0.75 * (l[0] + l[1]) + 1.5 * l[2]) / (0.75 * 2 + 1.5)]);
    // Median frequency: f = (⅔, ⅓), median ½ → w = (¾, 3/2): the same here.
    assertClose(
      [losses.create('wce', { weights: 'median-frequency' })(x, labels).item()],
      [(0.75 * (l[0] + l[1]) + 1.5 * l[2]) / 3],
    );
    assertClose(
      [
        losses
          .create('wce', { weights: [1, 3] })(x, labels)
          .item(),
      ],
      [(l[0] + l[1] + 3 * l[2]) / 5],
    );
    assertClose(losses.frequencyWeights([6, 3, 1, 0], 'median-frequency'), [0.5, 1, 3, 0], 1e-12);
  }));

function randomBatch(B: number, C: number, S: number, seed: number, fg = 0.2): Batch {
  const x = randomArray(B * C * S, seed, -4, 4);
  const t = randomArray(B * C * S, seed + 1, 0, 1).map((u) => (u < fg ? 1 : 0));
  return { x, t, B, C, S };
}

const toTensors = (d: Batch, dtype: 'float32' | 'float64'): [Tensor, Tensor] => {
  const shape = [d.B, d.C, d.S, 1, 1];
  return dtype === 'float64'
    ? [tensor(d.x, shape), tensor(d.t, shape)]
    : [tensor(Float32Array.from(d.x), shape), tensor(Float32Array.from(d.t), shape)];
};

const sigmoidCases: [string, Record<string, unknown>, (d: Batch) => number][] = [
  ['combo', {}, (d) => ref.combo(d, { alpha: 0.5, beta: 0.5, smooth: 1, dice: 'flattened', variant: 'paper' })],
  [
    'combo',
    { alpha: 0.3, beta: 0.7, smooth: 2 },
    (d) => ref.combo(d, { alpha: 0.3, beta: 0.7, smooth: 2, dice: 'flattened', variant: 'paper' }),
  ],
  [
    'combo',
    { beta: 0.4, dice: 'per-class-mean' },
    (d) => ref.combo(d, { alpha: 0.5, beta: 0.4, smooth: 1, dice: 'per-class-mean', variant: 'paper' }),
  ],
  [
    'combo',
    { beta: 0.6, dice: 'per-class-sum' },
    (d) => ref.combo(d, { alpha: 0.5, beta: 0.6, smooth: 1, dice: 'per-class-sum', variant: 'paper' }),
  ],
  [
    'combo',
    { beta: 0.4, variant: 'keras-release' },
    (d) => ref.combo(d, { alpha: 0.5, beta: 0.4, smooth: 1, dice: 'flattened', variant: 'keras-release' }),
  ],
  ['dice', {}, (d) => ref.dice(d, { smooth: 1, squared: false, dice: 'flattened' })],
  [
    'dice',
    { squared: true, dice: 'per-class-mean' },
    (d) => ref.dice(d, { smooth: 1, squared: true, dice: 'per-class-mean' }),
  ],
  [
    'dice',
    { dice: 'per-class-sum', smooth: 0.5 },
    (d) => ref.dice(d, { smooth: 0.5, squared: false, dice: 'per-class-sum' }),
  ],
  ['bce', {}, (d) => ref.bce(d)],
  ['wbce', { beta: 0.3 }, (d) => ref.wbce(d, { beta: 0.3 })],
  ['dce', {}, (d) => ref.dce(d, { smooth: 1 })],
  ['focal', {}, (d) => ref.focal(d, { alpha: 0.25, gamma: 2 })],
  ['focal', { alpha: 0.6, gamma: 0.5 }, (d) => ref.focal(d, { alpha: 0.6, gamma: 0.5 })],
  ['gdl', {}, (d) => ref.gdl(d, { smooth: 1e-5 })],
  ['jaccard', {}, (d) => ref.jaccard(d, { smooth: 1, dice: 'flattened' })],
  ['jaccard', { dice: 'per-class-mean' }, (d) => ref.jaccard(d, { smooth: 1, dice: 'per-class-mean' })],
  ['sensspec', {}, (d) => ref.sensspec(d, { r: 0.05 })],
  ['sensspec', { r: 0.5 }, (d) => ref.sensspec(d, { r: 0.5 })],
  ['tversky', {}, (d) => ref.tversky(d, { alpha: 0.5, beta: 0.5, smooth: 1, dice: 'flattened' })],
  [
    'tversky',
    { alpha: 0.2, beta: 0.8, dice: 'per-class-sum' },
    (d) => ref.tversky(d, { alpha: 0.2, beta: 0.8, smooth: 1, dice: 'per-class-sum' }),
  ],
];

for (const [name, opts, reference] of sigmoidCases) {
  const label = `${name} ${JSON.stringify(opts)}`;
  test(`${label} matches the float64 reference on random inputs (float32 and float64)`, () => {
    for (const seed of [1, 2, 3]) {
      const d = randomBatch(2, 3, 40, seed * 10);
      const want = reference(d);
      const loss = losses.create(name, opts);
      for (const dtype of ['float32', 'float64'] as const) {
        const got = tidy(() => loss(...toTensors(d, dtype)).item());
        assertClose([got], [want], 1e-5, `${label} ${dtype} seed ${seed}`);
      }
    }
  });
  test(`${label}: gradient w.r.t. the logits matches finite differences`, () => {
    const d = randomBatch(2, 2, 6, 77, 0.4);
    const target = tensor(d.t, [2, 2, 6, 1, 1]);
    const loss = losses.create(name, opts);
    checkGradient(label, (x) => loss(x, target), [{ shape: [2, 2, 6, 1, 1], values: d.x }], { tol: 1e-5 });
    target.dispose();
  });
}

test('softmax losses match the float64 reference and finite differences', () => {
  const B = 2,
    C = 4,
    S = 30;
  const x = randomArray(B * C * S, 5, -3, 3);
  const labels = Array.from(randomArray(B * S, 6, 0, C), Math.floor);
  const counts = Array.from({ length: C }, (_, c) => labels.filter((l) => l === c).length);
  const inv = losses.frequencyWeights(counts, 'inverse-frequency');
  const med = losses.frequencyWeights(counts, 'median-frequency');
  const cases: [string, Record<string, unknown>, number[] | undefined][] = [
    ['ce', {}, undefined],
    ['wce', {}, inv],
    ['wce', { weights: 'median-frequency' }, med],
    ['wce', { weights: [0.5, 1, 2, 4] }, [0.5, 1, 2, 4]],
  ];
  for (const [name, opts, weights] of cases) {
    const loss = losses.create(name, opts);
    const want = ref.ce(x, labels, B, C, S, weights);
    const got = tidy(() =>
      loss(tensor(Float32Array.from(x), [B, C, S]), tensor(Int32Array.from(labels), [B, S])).item(),
    );
    assertClose([got], [want], 1e-5, `${name} ${JSON.stringify(opts)}`);
    const target = tensor(Int32Array.from(labels.slice(0, 2 * 3)), [2, 3]);
    checkGradient(name, (z) => loss(z, target), [{ shape: [2, C, 3] }]);
    target.dispose();
  }
});

test("Combo's β moves weight from false positives to false negatives", () =>
  tidy(() => {
    // One false negative (t = 1, p ≈ 0.12) and one false positive (t = 0, p ≈ 0.88).
    const x = tensor([-2, 2, 3, -3], [1, 1, 4]);
    const t = tensor([1, 0, 1, 0], [1, 1, 4]);
    let prev: { fg: number; bg: number } | null = null;
    for (const beta of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      const terms = losses.comboCrossEntropyTerms(x, t, beta, 'paper', false);
      const cur = { fg: terms.foreground.item(), bg: terms.background.item() };
      if (prev) {
        assert.ok(cur.fg > prev.fg, `β=${beta}: the FN (foreground) term grows: ${prev.fg} → ${cur.fg}`);
        assert.ok(cur.bg < prev.bg, `β=${beta}: the FP (background) term shrinks: ${prev.bg} → ${cur.bg}`);
      }
      prev = cur;
    }
    // And the whole loss follows: with only a false negative, a larger β costs more.
    const fnOnly = tensor([-2, -3], [1, 1, 2]),
      tFn = tensor([1, 0], [1, 1, 2]);
    const at = (beta: number) => losses.create('combo', { beta, alpha: 1 })(fnOnly, tFn).item();
    assert.ok(at(0.7) > at(0.3));
  }));

test('keras-release differs from eq. 3 exactly by the β(1−β) background weight', () =>
  tidy(() => {
    const d = randomBatch(1, 2, 50, 42);
    const [x, t] = toTensors(d, 'float64');
    for (const beta of [0.3, 0.5, 0.7]) {
      const paper = losses.comboCrossEntropyTerms(x, t, beta, 'paper', false);
      const keras = losses.comboCrossEntropyTerms(x, t, beta, 'keras-release', false);
      assertClose([keras.foreground.item()], [paper.foreground.item()], 1e-12);
      assertClose([keras.background.item()], [(paper.background.item() * beta * (1 - beta)) / (1 - beta)], 1e-12);
    }
  }));

const ALL = losses.LOSS_NAMES;
const makeInputs = (name: string, x: number[], t: number[]): [Tensor, Tensor] =>
  losses.SOFTMAX_LOSSES.includes(name as losses.LossName)
    ? [tensor([...x, ...x.map((v) => -v)], [1, 2, x.length]), tensor(new Int32Array(t), [1, t.length])]
    : [tensor(x, [1, 1, x.length]), tensor(t, [1, 1, t.length])];

test('an empty target (no foreground) gives a finite loss and finite gradients for every loss', () => {
  for (const name of ALL)
    tidy(() => {
      const [x, t] = makeInputs(name, [1, -2, 0.5, 3], [0, 0, 0, 0]);
      x.requiresGrad = true;
      const l = losses.create(name)(x, t);
      assert.ok(Number.isFinite(l.item()), `${name}: ${l.item()}`);
      l.backward();
      assert.ok(x.grad!.toArray().every(Number.isFinite), `${name}: gradient finite`);
    });
});

test('extreme logits and probabilities of exactly 0 and 1 give finite losses and gradients', () => {
  for (const name of ALL)
    tidy(() => {
      const [x, t] = makeInputs(name, [200, -200, 150, -150], [1, 0, 0, 1]);
      x.requiresGrad = true;
      const l = losses.create(name)(x, t);
      assert.ok(Number.isFinite(l.item()), `${name} at ±200: ${l.item()}`);
      l.backward();
      assert.ok(x.grad!.toArray().every(Number.isFinite), `${name} at ±200: gradient finite`);
      if (!losses.SOFTMAX_LOSSES.includes(name)) {
        const p = tensor([1, 0, 1, 0], [1, 1, 4]);
        const v = losses.create(name, { fromProbabilities: true })(p, t).item();
        assert.ok(Number.isFinite(v), `${name} fromProbabilities at 0/1: ${v}`);
      }
    });
  // log-sigmoid keeps the cross entropy exact where log(sigmoid(x)) would give Inf:
  tidy(() =>
    assertClose(
      [
        losses
          .create('bce')(tensor([-200], [1, 1, 1]), tensor([1], [1, 1, 1]))
          .item(),
      ],
      [200],
      1e-6,
    ),
  );
});

test('bad input: clear errors that name the argument', () =>
  tidy(() => {
    const x = tensor(new Float32Array(8), [1, 2, 4]);
    const expectErr = (fn: () => unknown, re: RegExp) =>
      assert.throws(fn, (e: unknown) => e instanceof ComboSegError && re.test((e as Error).message));
    expectErr(
      () => losses.create('combo')(x, tensor(new Float32Array(4), [1, 1, 4])),
      /target shape \[1,1,4\] does not match logits shape \[1,2,4\]/,
    );
    expectErr(
      () => losses.create('dice')(x, tensor(new Float32Array(8).fill(0.5), [1, 2, 4])),
      /2 value\(s\)|8 value\(s\) outside \{0, 1\}/,
    );
    expectErr(() => losses.create('combo', { alpha: 1.5 }), /option 'alpha' must be a number in \[0, 1\], got 1.5/);
    expectErr(() => losses.create('combo', { beta: -0.1 }), /option 'beta'/);
    expectErr(() => losses.create('focal', { gamma: -1 }), /option 'gamma'/);
    expectErr(
      () => losses.create('combo', { dice: 'sideways' }),
      /option 'dice' must be one of 'flattened', 'per-class-mean', 'per-class-sum'/,
    );
    expectErr(
      () => losses.create('combo', { gamma: 2 } as never),
      /unknown option 'gamma' \(options: alpha, beta, smooth, dice, variant, fromProbabilities\)/,
    );
    expectErr(() => losses.create('combi'), /unknown loss 'combi'. Did you mean 'combo'\?/);
    expectErr(() => losses.create('wce', { weights: [1, -1] }), /weights/);
    expectErr(
      () => losses.create('wce', { weights: [1, 2, 3] })(x, tensor(new Int32Array(4), [1, 4])),
      /3 class weights given for 2 channels/,
    );
    expectErr(
      () => losses.create('ce')(x, tensor(new Int32Array([0, 1, 2, 0]), [1, 4])),
      /labels span \[0, 2\], outside 0..1 for 2 channels/,
    );
    expectErr(() => losses.create('ce')(x, tensor(new Int32Array(3), [1, 3])), /neither the logits shape/);
    expectErr(
      () => losses.create('bce')(tensor([NaN, 0], [1, 1, 2]), tensor([0, 1], [1, 1, 2])),
      /1 NaN or infinite value/,
    );
    expectErr(
      () => losses.create('bce', { fromProbabilities: true })(tensor([1.5, 0], [1, 1, 2]), tensor([0, 1], [1, 1, 2])),
      /outside \[0, 1\]/,
    );
    expectErr(
      () => losses.create('bce')(tensor(new Int32Array(2), [1, 1, 2]), tensor([0, 1], [1, 1, 2])),
      /float32 or float64/,
    );
  }));

test('a loss frees its intermediates and keeps its options frozen', () => {
  const loss = losses.create('combo', { beta: 0.4 });
  assert.equal(loss.lossName, 'combo');
  assert.equal(loss.options.beta, 0.4);
  assert.equal(loss.options.alpha, 0.5);
  assert.throws(() => {
    (loss.options as { beta: number }).beta = 0.9;
  });
  const [x, t] = half();
  expectNoLeaks(() => loss(x, t).dispose());
  x.dispose();
  t.dispose();
});

test('the README example of losses.create runs', () =>
  tidy(() => {
    const loss = losses.create('combo', { alpha: 0.5, beta: 0.4, smooth: 1 });
    const logits = tensor(new Float32Array(2 * 5 * 4 * 4 * 4).fill(-1), [2, 5, 4, 4, 4]);
    const target = tensor(
      new Float32Array(2 * 5 * 4 * 4 * 4).map((_, i) => (i % 7 === 0 ? 1 : 0)),
      [2, 5, 4, 4, 4],
    );
    const value = loss(logits, target);
    assert.deepEqual(value.shape, []);
    assert.ok(Number.isFinite(value.item()));
  }));

test('softmax layout, background + one organ: dice, jaccard, tversky, focal equal their sigmoid form on x1 − x0', () =>
  tidy(() => {
    // softmax([x0, x1])[1] = σ(x1 − x0), so two-channel softmax losses must match the sigmoid ones.
    const n = 2 * 3 * 4 * 4;
    const x = tensor(Float32Array.from(randomArray(2 * n, 21, -3, 3)), [2, 2, 3, 4, 4]);
    const labels = tensor(
      Int32Array.from(randomArray(n, 22, 0, 1), (v) => (v > 0.6 ? 1 : 0)),
      [2, 3, 4, 4],
    );
    const diff = x.slice(1, 1, 2).sub(x.slice(1, 0, 1)); // [2, 1, 3, 4, 4]
    const organ = labels.unsqueeze(1).cast('float32');
    const cases: [string, Record<string, unknown>][] = [
      ['dice', {}],
      ['dice', { squared: true, dice: 'per-class-mean' }],
      ['jaccard', {}],
      ['tversky', { alpha: 0.3, beta: 0.7 }],
      ['focal', { alpha: 0.25, gamma: 2 }],
    ];
    for (const [name, options] of cases) {
      const soft = losses
        .create(name, { ...options, layout: 'softmax' })(x, labels)
        .item();
      const sig = losses.create(name, options)(diff, organ).item();
      assert.ok(Math.abs(soft - sig) < 1e-5, `${name} ${JSON.stringify(options)}: softmax ${soft} vs sigmoid ${sig}`);
    }
    assert.equal(losses.lossLayout('dice', { layout: 'softmax' }), 'softmax');
    assert.equal(losses.lossLayout('ce'), 'softmax');
    assert.equal(losses.lossLayout('combo'), 'sigmoid');
  }));
