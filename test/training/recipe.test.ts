// The training recipe's settings, end to end on a small synthetic set: a target spacing (training on it,
// predictions mapped back to each scan's grid), the patch pipeline's worker threads (the same weights as
// patches made on the training thread), and augmentation with a poly schedule resuming exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, training, inference, dispose } from '../../src/index.js';
import { targetSpacing } from '../../src/data/spacing.js';
import { checkpointWeights } from '../helpers.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-recipe-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dataDir = join(root, 'data');
// PET phantoms at 32 × 32 × 48 voxels of 14 × 14 × 25 mm.
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 5, seed: 3, size: [32, 32, 48] });

const config = (out: string, extra: Record<string, unknown> = {}) => ({
  data: { msd: dataDir },
  split: { validation: 0.2, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo', options: { beta: 0.4 } },
  sampler: { kind: 'paper', patchSize: [16, 16, 16], perOrgan: 2, background: 1 },
  batchSize: 2,
  epochs: 2,
  patchesPerEpoch: 10,
  optimizer: { name: 'sgd', lr: 0.05 },
  inference: { mode: 'window', stride: 8 },
  precision: 'fp32',
  seed: 5,
  out,
  ...extra,
});

const weights = checkpointWeights;

test('the median spacing per axis (odd and even counts); a given spacing as given; none when absent', () => {
  const s = (x: number, y: number, z: number) => ({ spacing: [x, y, z] as [number, number, number] });
  assert.deepEqual(targetSpacing('median', [s(1, 4, 3), s(2, 5, 1), s(9, 6, 2)]), [2, 5, 2]);
  assert.deepEqual(targetSpacing('median', [s(1, 4, 3), s(2, 5, 1)]), [1.5, 4.5, 2]);
  assert.deepEqual(targetSpacing([1, 2, 3], [s(9, 9, 9)]), [1, 2, 3]);
  assert.equal(targetSpacing(undefined, [s(1, 1, 1)]), undefined);
});

test('spacing: trains on the target grid, records it, and predicts on each scan own grid', async () => {
  const out = join(root, 'spacing');
  const logs: string[] = [];
  const r = await training.train(config(out, { spacing: [28, 28, 25], epochs: 1 }), {
    events: { log: (m) => logs.push(m) },
  });
  assert.ok(logs.some((l) => /spacing: 28\.000 × 28\.000 × 25\.000 mm \(as configured\); resampling 4 of 4/.test(l)));
  assert.equal(typeof r.records[0].meanDice, 'number', 'validation ran on the original grid');
  const model = inference.loadModel(join(out, 'last.safetensors'));
  try {
    assert.deepEqual(model.meta.spacing, [28, 28, 25]);
    const scan = data.phantomCase('pet', 3, 0, [32, 32, 48]);
    const image = { size: scan.size, spacing: scan.spacing, origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    model.network.eval();
    const pred = inference.predictVolume(model.network, model.meta, {
      ...image,
      data: scan.image,
      pixelType: 'float32',
    } as data.Volume);
    assert.deepEqual(pred.labels.size, [32, 32, 48]);
    assert.deepEqual(pred.labels.spacing, scan.spacing);
    assert.equal(pred.probabilities[0].data.length, 32 * 32 * 48);
  } finally {
    model.network.dispose();
    dispose(model.extra);
  }
});

test('pipeline: 2 worker threads, prefetching, give the weights of patches made on the training thread', async () => {
  const a = join(root, 'threads-0'),
    b = join(root, 'threads-2');
  await training.train(config(a, { pipeline: { workers: 0 } }));
  const r = await training.train(config(b, { pipeline: { workers: 2, prefetch: 3 } }));
  assert.deepEqual(weights(b), weights(a));
  assert.ok(r.records.every((e) => typeof e.dataWaitSeconds === 'number' && e.dataWaitSeconds >= 0));
});

test('augmentation and a poly schedule: a run stopped mid-epoch and resumed ends as an uninterrupted one', async () => {
  const recipe = {
    augmentation: { flip: { p: 0.5 }, rotate90: { p: 0.5 }, affine: { p: 0.5 }, gamma: { p: 0.3 }, noise: { p: 0.3 } },
    lrSchedule: { kind: 'poly', warmupEpochs: 0.5 },
    epochs: 3,
  };
  const whole = join(root, 'whole'),
    cut = join(root, 'cut'),
    plain = join(root, 'plain');
  await training.train(config(whole, recipe));
  await training.train(config(plain, { epochs: 3 }));
  const signal = { stop: false };
  const first = await training.train(config(cut, recipe), {
    signal,
    events: { onStep: (s) => (signal.stop = s.epoch === 1 && s.index >= 4) },
  });
  assert.equal(first.stopped, true);
  const resumed = await training.train(config(cut, recipe), { resume: true });
  assert.equal(resumed.stopped, false);
  assert.deepEqual(weights(cut), weights(whole));
  assert.notDeepEqual(weights(whole), weights(plain), 'the recipe changed training');
});

test('cache: cases preprocessed on disk train as cases in memory do; a second run reuses them', async () => {
  const cache = join(root, 'cache');
  const recipe = { spacing: 'median', epochs: 1 };
  await training.train(config(join(root, 'memory'), recipe));
  const logs: string[] = [];
  await training.train(config(join(root, 'cached'), { ...recipe, cache }), { events: { log: (m) => logs.push(m) } });
  assert.deepEqual(weights(join(root, 'cached')), weights(join(root, 'memory')));
  assert.ok(logs.some((l) => l.startsWith('cache: 4 training case(s) from')));
  // 4 training cases: their original entries (for the median) and their resampled ones, 3 files each.
  const entries = () =>
    readdirSync(cache)
      .sort()
      .map((f) => `${f}:${statSync(join(cache, f)).mtimeMs}`);
  const before = entries();
  assert.equal(before.length, 2 * 4 * 3);
  await training.train(config(join(root, 'cached-again'), { ...recipe, cache }));
  assert.deepEqual(entries(), before, 'nothing rewritten');
  assert.deepEqual(weights(join(root, 'cached-again')), weights(join(root, 'cached')));
});
