// Learning-rate schedules against values computed by hand, and the optimisers taking the rate set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, training, ComboSegError } from '../../src/index.js';
import {
  LrScheduleSchema,
  applyLearningRate,
  learningRate,
  parseLrSchedule,
  type LrScheduleInput,
} from '../../src/training/schedules.js';
import { assertClose } from '../helpers.js';

const lrOf = (s: LrScheduleInput, step: number, stepsPerEpoch = 10, epochs = 100, base = 0.01): number =>
  learningRate(parseLrSchedule(s), base, step, stepsPerEpoch, epochs);

const close = (a: number, e: number, what: string): void => assertClose([a], [e], 1e-12, what);

test('an absent schedule is constant, with the defaults filled in', () => {
  const s = LrScheduleSchema.parse(undefined);
  assert.deepEqual(s, {
    kind: 'constant',
    warmupEpochs: 0,
    warmupStartFactor: 0.1,
    power: 0.9,
    minLr: 0,
    stepEpochs: 30,
    gamma: 0.1,
  });
  for (const step of [0, 1, 500, 999, 5000]) assert.equal(learningRate(s, 0.01, step, 10, 100), 0.01);
});

test('poly: lr·(1 − t/T)^0.9 over fractional epochs, floored at minLr', () => {
  close(lrOf({ kind: 'poly' }, 0), 0.01, 'start');
  close(lrOf({ kind: 'poly' }, 500), 0.01 * 0.5 ** 0.9, 'half way'); // 0.0053588673...
  close(lrOf({ kind: 'poly' }, 500), 0.005358867312681466, 'half way, by number');
  close(lrOf({ kind: 'poly' }, 5), 0.01 * (1 - 0.5 / 100) ** 0.9, 'half an epoch');
  close(lrOf({ kind: 'poly', power: 2 }, 250), 0.01 * 0.75 ** 2, 'power 2 at a quarter');
  close(lrOf({ kind: 'poly' }, 1000), 0, 'end');
  close(lrOf({ kind: 'poly', minLr: 0.006 }, 500), 0.006, 'floor above the curve');
  close(lrOf({ kind: 'poly', minLr: 0.001 }, 100), 0.01 * 0.9 ** 0.9, 'floor below the curve');
  close(lrOf({ kind: 'poly', minLr: 0.001 }, 1500), 0.001, 'past the end');
});

test('cosine: minLr + (lr − minLr)(1 + cos(πt/T))/2', () => {
  close(lrOf({ kind: 'cosine' }, 0), 0.01, 'start');
  close(lrOf({ kind: 'cosine' }, 250), (0.01 * (1 + Math.SQRT1_2)) / 2, 'quarter'); // 0.0085355...
  close(lrOf({ kind: 'cosine' }, 250), 0.008535533905932738, 'quarter, by number');
  close(lrOf({ kind: 'cosine' }, 500), 0.005, 'half');
  close(lrOf({ kind: 'cosine' }, 1000), 0, 'end');
  close(lrOf({ kind: 'cosine', minLr: 0.002 }, 500), 0.006, 'half with minLr');
  close(lrOf({ kind: 'cosine', minLr: 0.002 }, 1000), 0.002, 'end with minLr');
  close(lrOf({ kind: 'cosine', minLr: 0.002 }, 1200), 0.002, 'past the end stays at minLr');
});

test('step: lr·gamma^⌊t/stepEpochs⌋, changing at the epoch boundaries', () => {
  const s = { kind: 'step', stepEpochs: 30, gamma: 0.1 } as const;
  close(lrOf(s, 0), 0.01, 'epoch 0');
  close(lrOf(s, 299), 0.01, 'last step of epoch 29');
  close(lrOf(s, 300), 0.001, 'first step of epoch 30');
  close(lrOf(s, 599), 0.001, 'last step of epoch 59');
  close(lrOf(s, 600), 0.0001, 'epoch 60');
  close(lrOf({ kind: 'step', stepEpochs: 2, gamma: 0.5 }, 45), 0.01 * 0.5 ** 2, 'epoch 4.5, halving every 2');
});

test('warm-up: linear from warmupStartFactor·lr to lr, then the schedule counts from its end', () => {
  const w = { kind: 'constant', warmupEpochs: 2, warmupStartFactor: 0.1 } as const;
  close(lrOf(w, 0), 0.001, 'warm-up start');
  close(lrOf(w, 10), 0.01 * 0.55, 'warm-up middle');
  close(lrOf(w, 5), 0.01 * (0.1 + 0.9 * 0.25), 'warm-up quarter');
  close(lrOf(w, 20), 0.01, 'warm-up end');
  close(lrOf(w, 21), 0.01, 'after warm-up');
  // Cosine over the 98 epochs after a 2-epoch warm-up: half way is epoch 2 + 49.
  const c = { kind: 'cosine', warmupEpochs: 2 } as const;
  close(lrOf(c, 0), 0.001, 'cosine warm-up start');
  close(lrOf(c, 20), 0.01, 'cosine starts at the end of warm-up');
  close(lrOf(c, 20 + 490), 0.005, 'cosine half way after warm-up');
  close(lrOf(c, 1000), 0, 'cosine end');
  // Step boundaries move by the warm-up too.
  const st = { kind: 'step', warmupEpochs: 1, stepEpochs: 3, gamma: 0.5 } as const;
  close(lrOf(st, 39), 0.01, 'step: before 1 + 3 epochs');
  close(lrOf(st, 40), 0.005, 'step: at 1 + 3 epochs');
  // Fractional warm-up epochs are counted in steps: 0.25 epoch of 8 steps is 2 steps.
  close(lrOf({ warmupEpochs: 0.25, warmupStartFactor: 0.5 }, 1, 8), 0.01 * 0.75, 'fractional warm-up');
  close(lrOf({ warmupEpochs: 0.25, warmupStartFactor: 0.5 }, 2, 8), 0.01, 'fractional warm-up end');
});

test('the rate depends only on the step: a resumed run gets the same rates', () => {
  const s = parseLrSchedule({ kind: 'poly', warmupEpochs: 1 });
  const a = Array.from({ length: 60 }, (_, i) => learningRate(s, 0.1, i, 7, 5));
  const b = Array.from({ length: 30 }, (_, i) => learningRate(s, 0.1, 30 + i, 7, 5));
  assert.deepEqual(a.slice(30), b);
});

test('schema errors name the field', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ kind: 'polly' }, /'kind'.*'poly'/],
    [{ warmupEpochs: -1 }, /'warmupEpochs' must be a number ≥ 0, got -1/],
    [{ warmupStartFactor: 0 }, /'warmupStartFactor' must be a number in \(0, 1\], got 0/],
    [{ power: 0 }, /'power' must be a number > 0, got 0/],
    [{ minLr: -0.1 }, /'minLr' must be a number ≥ 0/],
    [{ stepEpochs: 1.5 }, /'stepEpochs' must be a positive integer, got 1.5/],
    [{ gamma: 2 }, /'gamma' must be a number in \(0, 1\], got 2/],
    [{ warmup: 3 }, /unknown option 'warmup'.*Did you mean 'warmupEpochs'/],
  ];
  for (const [given, msg] of bad) {
    assert.throws(
      () => parseLrSchedule(given),
      (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option' && msg.test(e.message),
      JSON.stringify(given),
    );
  }
});

test('nonsense arguments throw invalid-option', () => {
  const s = parseLrSchedule({ kind: 'cosine', warmupEpochs: 5 });
  const cases: [() => number, RegExp][] = [
    [() => learningRate(s, 0.1, 0, 0, 10), /stepsPerEpoch/],
    [() => learningRate(s, 0.1, 0, 2.5, 10), /stepsPerEpoch/],
    [() => learningRate(s, 0.1, -1, 10, 10), /step must/],
    [() => learningRate(s, 0.1, 0.5, 10, 10), /step must/],
    [() => learningRate(s, 0.1, 0, 10, 0), /totalEpochs/],
    [() => learningRate(s, 0, 0, 10, 10), /baseLr/],
    [() => learningRate(s, Number.NaN, 0, 10, 10), /baseLr/],
    [() => learningRate(s, 0.1, 0, 10, 5), /warmupEpochs/],
    [() => learningRate(parseLrSchedule({ kind: 'poly', minLr: 1 }), 0.1, 0, 10, 10), /minLr/],
  ];
  for (const [f, msg] of cases) {
    assert.throws(f, (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option' && msg.test(e.message));
  }
});

test("an optimiser's step uses the rate set, leaving its base and options alone", () => {
  const p = tensor([1, 2], [2], { requiresGrad: true });
  const k = tensor([0.5, -1], [2]);
  const grad = (): void => tidy(() => p.mul(k).sum().backward()); // g = k
  const sgd = new training.Sgd([p], { lr: 0.1, momentum: 0 });
  assert.equal(sgd.lr, 0.1);
  assert.equal(sgd.baseLr, 0.1);
  sgd.lr = 0.02;
  grad();
  sgd.step();
  sgd.zeroGrad();
  assertClose(p.toArray(), [1 - 0.02 * 0.5, 2 + 0.02 * 1]);
  assert.equal(sgd.baseLr, 0.1);
  assert.equal(sgd.options.lr, 0.1);
  // A schedule sets the rate from the base at the optimiser's step count: cosine half way (step 1 of 2).
  const s = parseLrSchedule({ kind: 'cosine' });
  assert.equal(applyLearningRate(sgd, s, 1, 2), 0.05);
  assert.equal(sgd.lr, 0.05);
  grad();
  sgd.step();
  sgd.zeroGrad();
  assertClose(p.toArray(), [0.99 - 0.05 * 0.5, 2.02 + 0.05 * 1]);
  assert.throws(
    () => (sgd.lr = -1),
    (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option',
  );
  sgd.dispose();

  // Adam: the first step moves by ≈ lr, so the rate set shows directly.
  const adam = new training.Adam([p], { lr: 0.1 });
  adam.lr = 0.01;
  const before = p.toArray()[0];
  grad();
  adam.step();
  adam.zeroGrad();
  assertClose([p.toArray()[0]], [before - (0.01 * 0.5) / (0.5 + 1e-8)], 1e-6);
  adam.dispose();

  // Adadelta scales its update by lr: the first update at lr 0.5 is half the one at lr 1.
  const q = tensor([1], [1], { requiresGrad: true });
  const c = tensor([3], [1]);
  const ada = new training.Adadelta([q]);
  assert.equal(ada.lr, 1);
  ada.lr = 0.5;
  tidy(() => q.mul(c).sum().backward());
  ada.step();
  ada.zeroGrad();
  const d1 = (Math.sqrt(1e-8) / Math.sqrt(0.05 * 9 + 1e-8)) * 3;
  assertClose(q.toArray(), [1 - 0.5 * d1], 1e-6);
  ada.dispose();
  for (const t of [p, k, q, c]) t.dispose();
});
