// Cropping training volumes to the body: the box of non-zero voxels joined with the labels (by hand),
// the cropped grid's origin where the original voxel lies in the patient (rotated directions), and
// training cases cropped alike in memory and from the disk cache; off by default, out of the hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bodyBox } from '../../src/data/crop.js';
import { cropToBody, geometryOfBox } from '../../src/data/crop-to-body.js';
import { writeVolume } from '../../src/data/io.js';
import { openDataset } from '../../src/data/datasets.js';
import type { Vec3, Volume } from '../../src/data/volume.js';
import { parseConfig } from '../../src/training/config.js';
import { trainingCases } from '../../src/training/training-cases.js';
import { configHash, resolvedConfig } from '../../src/experiments/grid.js';

const SIZE: Vec3 = [20, 16, 12];
const at = (x: number, y: number, z: number) => (z * SIZE[1] + y) * SIZE[0] + x;

/** Zeros (air) around a body at x 4–13, y 3–11, z 2–9; a label voxel at (16, 5, 5) outside it. */
function scene(direction = [1, 0, 0, 0, 1, 0, 0, 0, 1]): { image: Volume; labels: Volume } {
  const n = SIZE[0] * SIZE[1] * SIZE[2];
  const img = new Float32Array(n),
    lab = new Uint8Array(n);
  for (let z = 2; z <= 9; z++) for (let y = 3; y <= 11; y++) for (let x = 4; x <= 13; x++) img[at(x, y, z)] = 1 + x;
  lab[at(6, 6, 6)] = 1;
  lab[at(16, 5, 5)] = 1;
  const geo = { size: SIZE, spacing: [0.5, 1, 2] as Vec3, origin: [10, -20, 30] as Vec3, direction };
  return { image: { ...geo, data: img, pixelType: 'float32' }, labels: { ...geo, data: lab, pixelType: 'uint8' } };
}

test('the body box: non-zero voxels joined with every label; the whole volume when all is zero', () => {
  const { image, labels } = scene();
  assert.deepEqual(bodyBox(image.data, 1, SIZE, labels.data), { start: [4, 3, 2], size: [13, 9, 8] });
  const zeros = new Float32Array(image.data.length);
  assert.deepEqual(bodyBox(zeros, 1, SIZE, new Uint8Array(zeros.length)), { start: [0, 0, 0], size: SIZE });
});

test('a cropped grid keeps each voxel where it was in the patient (rotated directions too)', () => {
  // Columns: x → −y, y → +x, z → +z (a 90° turn in-plane).
  const { image, labels } = scene([0, 1, 0, -1, 0, 0, 0, 0, 1]);
  const c = cropToBody(image, labels);
  const world = (g: typeof image, v: Vec3) =>
    [0, 1, 2].map((r) => g.origin[r] + [0, 1, 2].reduce((s, k) => s + g.direction[3 * r + k] * v[k] * g.spacing[k], 0));
  assert.deepEqual(world(c.image, [0, 0, 0]), world(image, c.box.start), 'the first voxel of the crop');
  assert.deepEqual(world(c.image, [3, 2, 1]), world(image, [7, 5, 3]));
  assert.equal(c.image.data[0], image.data[at(4, 3, 2)]);
  assert.equal(
    Array.from(c.labels.data).reduce((s, v) => s + v, 0),
    2,
    'no label cut',
  );
  assert.deepEqual(geometryOfBox(image, { start: [0, 0, 0], size: SIZE }).origin, image.origin);
});

test('training cases cropped alike in memory and from the cache; the setting is out of the hash when off', async () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-crop-'));
  for (const id of ['a', 'b']) {
    mkdirSync(join(root, id));
    const { image, labels } = scene();
    await writeVolume(join(root, id, 'img.nii.gz'), image);
    await writeVolume(join(root, id, 'lab.nii.gz'), labels);
  }
  const data = { cases: root, image: 'img.nii.gz', label: 'lab.nii.gz', labelNames: { 1: 'organ' } };
  const base = {
    data,
    network: { name: 'proposed', options: { channels: [4, 8] } },
    loss: { name: 'combo' },
    sampler: { kind: 'whole', patchSize: 8 },
    epochs: 1,
    out: join(root, 'run'),
  };
  const ds = openDataset(data);
  const sizes = async (extra: Record<string, unknown>) => {
    const got = await trainingCases(parseConfig({ ...base, ...extra }), ds, ds.training, null, () => {});
    return got.cases.map((c) => c.size);
  };
  assert.deepEqual(await sizes({}), [SIZE, SIZE], 'off by default');
  assert.deepEqual(await sizes({ cropToBody: true }), [
    [13, 9, 8],
    [13, 9, 8],
  ]);
  assert.deepEqual(await sizes({ cropToBody: true, cache: join(root, 'cache') }), [
    [13, 9, 8],
    [13, 9, 8],
  ]);
  const hash = (extra: Record<string, unknown>) => configHash(resolvedConfig(parseConfig({ ...base, ...extra })));
  assert.equal(hash({ cropToBody: false }), hash({}));
  assert.notEqual(hash({ cropToBody: true }), hash({}));
});
