// Explicit memory: tidy scopes free what they made; a long training loop inside
// tidy keeps resident memory flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor,
  tidy,
  keep,
  dispose,
  liveTensors,
  randn,
  conv3d,
  batchNorm,
  relu,
  sigmoid,
  noGrad,
  manualSeed,
  ones,
  zeros,
  maxPool3d,
  upsampleNearest3d,
} from '../../src/index.js';
import { expectNoLeaks } from '../helpers.js';

test('tidy frees intermediates and keeps what it returns (also nested, arrays, objects)', () => {
  const before = liveTensors();
  const out = tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = a.mul(2);
    const inner = tidy(() => [b.add(1), b.sub(1)]);
    return { sum: inner[0].add(inner[1]), both: inner };
  });
  assert.equal(liveTensors() - before, 3, 'the three returned tensors survive');
  assert.deepEqual(out.sum.toArray(), [4, 8, 12]);
  dispose(out);
  assert.equal(liveTensors(), before);
});

test('tidy frees everything when fn throws, and refuses async functions', () => {
  expectNoLeaks(() => {
    assert.throws(
      () =>
        tidy(() => {
          tensor([1]).add(1);
          throw new Error('inside');
        }),
      /inside/,
    );
  });
  expectNoLeaks(() => {
    assert.throws(() => tidy(() => Promise.resolve(tensor([1]))), /synchronous/);
  });
});

test('keep() lets a tensor outlive its scope', () => {
  const before = liveTensors();
  let kept!: ReturnType<typeof tensor>;
  tidy(() => {
    kept = keep(tensor([5]));
    tensor([6]);
  });
  assert.equal(liveTensors() - before, 1);
  assert.equal(kept.item(), 5);
  kept.dispose();
});

test('a zero-copy tensor aliases its buffer; the buffer stays valid after the array is dropped', () => {
  const data = new Float32Array([1, 2, 3]);
  const t = tensor(data, [3], { copy: false });
  data[0] = 10;
  assert.deepEqual(t.toArray(), [10, 2, 3], 'aliased');
  const c = tensor(data, [3]);
  data[1] = 20;
  assert.deepEqual(c.toArray(), [10, 2, 3], 'copied by default');
  // Many aliasing tensors freed by dispose: the deleter releases the JS buffers.
  for (let i = 0; i < 1000; i++) tensor(new Float32Array(1024), [1024], { copy: false }).dispose();
  t.dispose();
  c.dispose();
});

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

test('a 300-step training loop inside tidy keeps resident memory flat', () => {
  manualSeed(0);
  const w1 = randn([8, 1, 3, 3, 3]).mul(0.2),
    w2 = randn([1, 8, 3, 3, 3]).mul(0.2);
  const g = ones([8]),
    b = zeros([8]),
    rm = zeros([8]),
    rv = ones([8]);
  for (const p of [w1, w2, g, b]) p.requiresGrad = true;
  const x = randn([1, 1, 16, 16, 16]);
  const y = x.gt(0).cast('float32');
  const before = liveTensors();
  let rssAt50 = 0;
  for (let step = 0; step < 300; step++) {
    tidy(() => {
      let h = conv3d(x, w1, null, { padding: 1 });
      h = relu(batchNorm(h, g, b, rm, rv, true));
      h = upsampleNearest3d(maxPool3d(h, 2), { scale: 2 });
      const p = sigmoid(conv3d(h, w2, null, { padding: 1 }));
      const loss = p.sub(y).square().mean();
      loss.backward();
      noGrad(() => {
        for (const q of [w1, w2, g, b]) {
          const grad = q.grad!;
          q.add_(grad, -0.1);
          q.zeroGrad();
        }
      });
    });
    if (step === 50) rssAt50 = rssMiB();
  }
  const growth = rssMiB() - rssAt50;
  assert.equal(liveTensors(), before, 'no tensor left behind');
  assert.ok(growth < 25, `resident memory grew ${growth.toFixed(1)} MiB between step 50 and step 300`);
  for (const t of [w1, w2, g, b, rm, rv, x, y]) t.dispose();
});
