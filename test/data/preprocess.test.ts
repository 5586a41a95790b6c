// Labels, normalisation and resampling against values worked out by hand or analytically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, ComboSegError } from '../../src/index.js';
import { assertClose } from '../helpers.js';

const geometry = (size: [number, number, number], spacing: [number, number, number] = [1, 1, 1]) => ({
  size,
  spacing,
  origin: [10, -5, 2] as [number, number, number],
  direction: [0, 1, 0, -1, 0, 0, 0, 0, 1],
});

test('label maps ↔ one-hot channels without background; the most probable organ wins', () => {
  const labels = Uint8Array.from([0, 2, 5, 2, 7]);
  assert.deepEqual(Array.from(data.oneHot(labels, [2, 5])), [0, 1, 0, 1, 0, /* organ 5 */ 0, 0, 1, 0, 0]);
  const probs = Float32Array.from([0.9, 0.2, 0.6, 0.4, /* organ 5 */ 0.95, 0.1, 0.7, 0.45]);
  assert.deepEqual(Array.from(data.labelsFromProbabilities(probs, [2, 5], 0.5)), [5, 0, 5, 0]);
  const set = data.labelSetFrom({ '0': 'background', '3': 'heart', '1': 'brain' });
  assert.deepEqual(set, { values: [1, 3], names: ['brain', 'heart'] });
  assert.throws(() => data.labelSetFrom({ '0': 'background' }), /no organ labels/);
});

test('normalisation: dataset-wide min–max, z-score and CT window; per-patch min–max', () => {
  const a = Float32Array.from([0, 10]),
    b = Int16Array.from([-10, 30]);
  const mm = data.computeNormalisation([a, b], 'minmax');
  assert.deepEqual(mm, { kind: 'minmax', min: -10, max: 30 });
  assertClose(data.normalise(a, mm), [0.25, 0.5]);
  const z = data.computeNormalisation([a, b], 'zscore');
  assert.equal(z.kind, 'zscore');
  assertClose([z.mean, z.std], [7.5, Math.sqrt((7.5 ** 2 + 2.5 ** 2 + 17.5 ** 2 + 22.5 ** 2) / 4)]);
  const w = data.computeNormalisation([], 'window', [-100, 300]);
  assertClose(data.normalise(Float32Array.from([-1000, -100, 100, 3000]), w), [0, 0, 0.5, 1]);
  assert.throws(() => data.computeNormalisation([], 'window', [5, 5]), ComboSegError);
  assertClose(data.minMaxInPlace(Float32Array.from([2, 4, 6])), [0, 0.5, 1]);
  assertClose(data.minMaxInPlace(Float32Array.from([3, 3])), [0, 0]);
  assert.deepEqual(JSON.parse(JSON.stringify(mm)), mm, 'statistics are plain JSON (stored with the model)');
});

test('linear resampling reproduces a linear intensity ramp at the new voxel centres', () => {
  const g = geometry([8, 6, 4], [1, 2, 3]);
  const ramp = new Float32Array(8 * 6 * 4);
  for (let z = 0, i = 0; z < 4; z++)
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++, i++) ramp[i] = 2 * x + 3 * y - z;
  const r = data.resampleToSize({ ...g, data: ramp, pixelType: 'float32' }, [16, 3, 4], 'linear');
  // Same field of view: spacing scales, the first centre moves by half the spacing change.
  assertClose(r.spacing, [0.5, 4, 3]);
  assertClose(r.origin, data.indexToPhysical(g, [-0.25, 0.5, 0]), 1e-6, 'origin');
  // Interior voxel (i, j, k) of the new grid sits at old continuous index ((i+½)/2 − ½, 2(j+½) − ½, k).
  for (const [i, j, k] of [
    [3, 1, 1],
    [10, 1, 2],
    [7, 1, 0],
  ]) {
    const want = 2 * ((i + 0.5) / 2 - 0.5) + 3 * (2 * (j + 0.5) - 0.5) - k;
    assertClose([r.data[(k * 3 + j) * 16 + i]], [want], 1e-5, `voxel ${i},${j},${k}`);
  }
});

test('nearest and label-aware resampling give only existing labels; back to the original grid', () => {
  const g = geometry([6, 6, 6]);
  const labels = new Uint8Array(216);
  for (let z = 0, i = 0; z < 6; z++)
    for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++, i++) labels[i] = x < 2 ? 0 : x < 4 ? 3 : 9;
  const vol = { ...g, data: labels, pixelType: 'uint8' };
  for (const mode of ['nearest', 'label'] as const) {
    const up = data.resampleToSize(vol, [12, 12, 12], mode);
    assert.ok(up.data instanceof Uint8Array, `${mode}: keeps the label array type`);
    assert.deepEqual(
      [...new Set(up.data)].sort((a, b) => a - b),
      [0, 3, 9],
      mode,
    );
    const back = data.resampleLike(up, vol, mode);
    assert.deepEqual(Array.from(back.data), Array.from(labels), `${mode}: ×2 then back is the identity`);
    assert.ok(data.sameGrid(back, vol));
  }
  const down = data.resampleToSpacing(vol, [2, 2, 2], 'label');
  assert.deepEqual(down.size, [3, 3, 3]);
  assert.deepEqual(Array.from(down.data.slice(0, 3)), [0, 3, 9]);
  assert.throws(() => data.resampleLike(down, geometry([7, 6, 6]), 'nearest'), /fields of view differ/);
});
