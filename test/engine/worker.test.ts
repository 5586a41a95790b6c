// The engine runs inside worker threads (each loads its own addon instance),
// so training can run off the main thread while its event loop stays free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

test('training in a worker thread while the main event loop keeps ticking', async () => {
  const engine = new URL('../../src/index.ts', import.meta.url).href;
  const worker = new Worker(new URL('./fixtures/train-worker.mjs', import.meta.url), {
    workerData: { engine, steps: 60 },
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const result = await new Promise<{ first: number; last: number; gradModeOffInside: boolean }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  clearInterval(timer);
  await worker.terminate();
  assert.ok(result.last < result.first * 0.5, `loss fell in the worker: ${result.first} → ${result.last}`);
  assert.ok(ticks > 3, `main thread timer ticked ${ticks} times during training`);
  assert.equal(result.gradModeOffInside, true, 'grad mode is per thread and noGrad works in a worker');
});

test('op lookups from several worker threads at once: every call reaches the right op', async () => {
  const ops = ['aten::abs', 'aten::neg', 'aten::exp', 'aten::sin', 'aten::cos', 'aten::tanh', 'aten::sigmoid'];
  const more = ['aten::sqrt', 'aten::atan', 'aten::asin', 'aten::erf', 'aten::expm1', 'aten::log1p', 'aten::ceil'];
  const workerData = {
    engine: new URL('../../src/index.ts', import.meta.url).href,
    native: new URL('../../src/engine/native.ts', import.meta.url).href,
    ops: [...ops, ...more],
    rounds: 150,
  };
  const workers = Array.from(
    { length: 4 },
    () => new Worker(new URL('./fixtures/ops-worker.mjs', import.meta.url), { workerData }),
  );
  const results = await Promise.all(
    workers.map(
      (w) =>
        new Promise<{ wrong: number }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  assert.deepEqual(
    results.map((r) => r.wrong),
    [0, 0, 0, 0],
  );
});
