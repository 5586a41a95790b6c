// Optimiser updates against the update rules computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, training, liveTensors } from '../../src/index.js';
import { assertClose } from '../helpers.js';

/** A parameter p with loss Σ c·p, so the gradient is c at every step. */
function setup(p0: number[], c: number[]) {
  const p = tensor(p0, [p0.length], { requiresGrad: true });
  const k = tensor(c, [c.length]);
  const grad = () => tidy(() => p.mul(k).sum().backward());
  return { p, k, grad };
}

test('SGD with and without momentum', () => {
  const { p, k, grad } = setup([1, 2], [0.5, -1]);
  const sgd = new training.Sgd([p], { lr: 0.1, momentum: 0 });
  grad();
  sgd.step();
  sgd.zeroGrad();
  assertClose(p.toArray(), [1 - 0.05, 2 + 0.1]);
  const m = new training.Sgd([p], { lr: 0.1, momentum: 0.9 });
  grad();
  m.step();
  m.zeroGrad(); // v = g
  grad();
  m.step();
  m.zeroGrad(); // v = 0.9g + g = 1.9g
  assertClose(p.toArray(), [0.95 - 0.1 * 0.5 * 2.9, 2.1 + 0.1 * 2.9]);
  for (const t of [p, k]) t.dispose();
  m.dispose();
});

test('Adam: the first two steps by hand', () => {
  const { p, k, grad } = setup([1], [2]);
  const adam = new training.Adam([p], { lr: 0.1 });
  grad();
  adam.step();
  adam.zeroGrad();
  // m̂ = g, v̂ = g² → step = lr · g / (|g| + ε) ≈ lr
  assertClose(p.toArray(), [1 - (0.1 * 2) / (2 + 1e-8)], 1e-6);
  grad();
  adam.step();
  adam.zeroGrad();
  assertClose(p.toArray(), [0.9 - 0.1], 1e-6);
  assert.equal(adam.stepCount, 2);
  for (const t of [p, k]) t.dispose();
  adam.dispose();
});

test('Adadelta: the paper optimiser step by hand (lr 1, ρ 0.95, ε 1e-8)', () => {
  const { p, k, grad } = setup([1], [3]);
  const opt = new training.Adadelta([p]);
  grad();
  opt.step();
  opt.zeroGrad();
  // E[g²] = 0.05·9 = 0.45; Δ = √(0 + ε)/√(0.45 + ε) · 3; E[Δ²] = 0.05·Δ²
  const sq = 0.05 * 9,
    d1 = (Math.sqrt(1e-8) / Math.sqrt(sq + 1e-8)) * 3,
    acc = 0.05 * d1 * d1;
  assertClose(p.toArray(), [1 - d1], 1e-6);
  grad();
  opt.step();
  opt.zeroGrad();
  const sq2 = 0.95 * sq + 0.05 * 9,
    d2 = (Math.sqrt(acc + 1e-8) / Math.sqrt(sq2 + 1e-8)) * 3;
  assertClose(p.toArray(), [1 - d1 - d2], 1e-6);
  for (const t of [p, k]) t.dispose();
  opt.dispose();
});

test('optimiser state round-trips and steps leak no tensors', () => {
  const { p, k, grad } = setup([1, -1], [1, 2]);
  const a = new training.Adam([p], { lr: 0.01 });
  grad();
  a.step();
  a.zeroGrad();
  const before = liveTensors();
  grad();
  a.step();
  a.zeroGrad();
  assert.equal(liveTensors(), before, 'a step leaves nothing behind');
  const q = tensor(p.toArray(), [2], { requiresGrad: true });
  const b = new training.Adam([q], { lr: 0.01 });
  b.loadState(a.state(), a.stepCount);
  const k2 = tensor([1, 2], [2]);
  grad();
  a.step();
  tidy(() => q.mul(k2).sum().backward());
  b.step();
  assertClose(q.toArray(), p.toArray(), 1e-7);
  assert.throws(
    () => new training.Adadelta([p], { rho: 1.5 }),
    /optimiser 'adadelta': option 'rho' must be a number in \[0, 1\), got 1.5/,
  );
  for (const t of [p, k, q, k2]) t.dispose();
  a.dispose();
  b.dispose();
});
