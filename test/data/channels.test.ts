// Images with several channels (MRI contrasts, PET + CT): read from case folders (a list of
// files), MSD / nnU-Net folders (NAME_0000, NAME_0001 files, or one 4-D file) and 4-D NIfTI;
// one grid for every channel; per-channel patches, batches and min–max.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ComboSegError } from '../../src/engine/errors.js';
import { readVolume, writeVolume } from '../../src/data/io.js';
import { loadCase, openDataset, readCaseFolders, readMsd } from '../../src/data/datasets.js';
import { toBatch, type Patch } from '../../src/data/patch.js';
import { PaperSampler } from '../../src/data/sampler.js';
import { channelCount, channelOf, sameGrid, stackChannels, type Vec3, type Volume } from '../../src/data/volume.js';
import { computeChannelNormalisation, normaliseChannels } from '../../src/data/normalise.js';
import { parseConfig } from '../../src/training/config.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

const CORD = join(SHARED_DATA, 'spleen-ct-and-cord');
const CONTRASTS = ['T1w', 'T2w', 'T2star'];
const contrastFile = (c: string) => join(CORD, 'sub-unf01', 'anat', `sub-unf01_${c}.nii.gz`);
const cordLabel = join(CORD, 'labels', 'sub-unf01', 'anat', 'sub-unf01_T2w_seg-manual.nii.gz');

/** A case-folder data set in a temporary folder whose files link to the shared ones (never copies). */
function caseFolders(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-channels-'));
  mkdirSync(join(root, 'sub-unf01'));
  for (const [name, target] of Object.entries(files)) symlinkSync(target, join(root, 'sub-unf01', name));
  return root;
}

/** The smallest and largest value (no spread: volumes are large). */
function range(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    lo = Math.min(lo, xs[i]);
    hi = Math.max(hi, xs[i]);
  }
  return [lo, hi];
}

const rejects = (message: RegExp) => (e: unknown) =>
  e instanceof ComboSegError && e.code === 'invalid-input' && message.test(e.message);

test(
  'a case folder with an image list reads as 3 channels on one grid, each as read alone',
  { skip: skipWithoutData },
  async () => {
    const root = caseFolders({
      'T1w.nii.gz': contrastFile('T1w'),
      'T2w.nii.gz': contrastFile('T2w'),
      'T2star.nii.gz': contrastFile('T2star'),
      'cord.nii.gz': cordLabel,
    });
    const image = CONTRASTS.map((c) => `${c}.nii.gz`);
    const cfg = parseConfig({
      data: { cases: root, image, label: 'cord.nii.gz', labelNames: { 1: 'cord' } },
      network: { name: 'proposed' },
      loss: { name: 'combo' },
      out: 'o',
    });
    const ds = openDataset(cfg.data);
    assert.deepEqual(ds.channels, image);
    assert.equal(ds.training[0].channelFiles?.length, 3);
    const c = await loadCase(ds.training[0]);
    assert.equal(channelCount(c.image), 3);
    assert.deepEqual(c.image.size, [131, 141, 16]);
    assert.equal(c.image.data.length, 3 * 131 * 141 * 16);
    for (const [k, contrast] of CONTRASTS.entries()) {
      const alone = await readVolume(contrastFile(contrast));
      const channel = channelOf(c.image, k);
      assert.ok(sameGrid(channel, alone), `${contrast}: the case's grid`);
      assert.deepEqual(channel.data, alone.data, `${contrast}: channel ${k} holds its values`);
    }
    assert.ok(c.labels && sameGrid(c.labels, c.image));
    assert.equal(
      Array.from(c.labels.data).filter((l) => l === 1).length,
      1227,
      'the cord mask (float-stored) as labels',
    );
    // Per-channel statistics: one per contrast, each from its own channel.
    const stats = computeChannelNormalisation([c.image], 'minmax');
    assert.equal(stats.length, 3);
    const [min, max] = range((await readVolume(contrastFile('T2w'))).data);
    assert.deepEqual(stats[1], { kind: 'minmax', min, max });
    const n = normaliseChannels(c.image, stats);
    const V = 131 * 141 * 16;
    for (let k = 0; k < 3; k++) {
      const [lo, hi] = range(n.subarray(k * V, (k + 1) * V));
      assert.ok(lo === 0 && Math.abs(hi - 1) < 1e-6, `channel ${k} normalised to [0, 1]: [${lo}, ${hi}]`);
    }
  },
);

test('channels on different grids: a clear error naming both files', { skip: skipWithoutData }, async () => {
  const ct = join(CORD, 'spleen_ct', 'sub-spleen2', 'ct', 'sub-spleen2_ct.nii.gz');
  const root = caseFolders({ 'T1w.nii.gz': contrastFile('T1w'), 'CT.nii.gz': ct, 'cord.nii.gz': cordLabel });
  const ds = readCaseFolders(root, ['T1w.nii.gz', 'CT.nii.gz'], 'cord.nii.gz', { 1: 'cord' });
  const first = join(root, 'sub-unf01', 'T1w.nii.gz'),
    second = join(root, 'sub-unf01', 'CT.nii.gz');
  await assert.rejects(
    loadCase(ds.training[0]),
    (e: unknown) =>
      rejects(/^case 'sub-unf01': .* is not on the grid of .*; all channels of a case must share one grid/)(e) &&
      (e as Error).message.includes(second) &&
      (e as Error).message.includes(first) &&
      /size \[131, 141, 16\] vs \[164, 166, 26\]/.test((e as Error).message),
  );
  // Same size, origin moved by 5 mm: still another grid.
  const t1 = await readVolume(contrastFile('T1w'));
  const moved = join(root, 'moved.nii.gz');
  await writeVolume(moved, { ...t1, origin: [t1.origin[0] + 5, t1.origin[1], t1.origin[2]] });
  assert.throws(
    () => stackChannels([t1, { ...t1, origin: [t1.origin[0] + 5, t1.origin[1], t1.origin[2]] }], ['a.nii', 'b.nii']),
    rejects(/^b\.nii is not on the grid of a\.nii \(origin \[/),
  );
  // A case folder missing one of its channel files.
  const partial = caseFolders({ 'T1w.nii.gz': contrastFile('T1w'), 'cord.nii.gz': cordLabel });
  assert.throws(
    () => readCaseFolders(partial, ['T1w.nii.gz', 'T2w.nii.gz'], 'cord.nii.gz', { 1: 'cord' }),
    /needs T1w.nii.gz, T2w.nii.gz, cord.nii.gz; T2w.nii.gz missing/,
  );
});

const GRID = { size: [6, 5, 4] as Vec3, spacing: [1.5, 2, 3] as Vec3, origin: [-10, 20, 5] as Vec3 };
const N = 6 * 5 * 4;
/** A recognisable value per voxel and channel. */
const value = (i: number, c: number) => (c + 1) * 1000 + i;
const channelVolume = (c: number): Volume => ({
  ...GRID,
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  data: Float32Array.from({ length: N }, (_, i) => value(i, c)),
  pixelType: 'float32',
});

/**
 * A 4-D NIfTI-1 file built byte by byte: float32, dims X×Y×Z×C, the channels on the last axis, an
 * sform placing it where GRID is (ITK's LPS: the RAS affine negates x and y).
 */
function nifti4d(channels: number): Buffer {
  const h = Buffer.alloc(352);
  h.writeInt32LE(348, 0);
  [4, ...GRID.size, channels, 1, 1, 1].forEach((d, i) => h.writeInt16LE(d, 40 + 2 * i));
  h.writeInt16LE(16, 70); // float32
  h.writeInt16LE(32, 72);
  [1, ...GRID.spacing, 1, 1, 1, 1].forEach((d, i) => h.writeFloatLE(d, 76 + 4 * i));
  h.writeFloatLE(352, 108);
  h.writeUInt8(2, 123); // mm
  h.writeInt16LE(1, 254); // sform: scanner
  const [sx, sy, sz] = GRID.spacing,
    [ox, oy, oz] = GRID.origin;
  const srow = [
    [-sx, 0, 0, -ox],
    [0, -sy, 0, -oy],
    [0, 0, sz, oz],
  ];
  srow.forEach((row, r) => row.forEach((v, k) => h.writeFloatLE(v, 280 + 16 * r + 4 * k)));
  h.write('n+1\0', 344, 'latin1');
  const voxels = Buffer.alloc(4 * N * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < N; i++) voxels.writeFloatLE(value(i, c), 4 * (c * N + i));
  return gzipSync(Buffer.concat([h, voxels]));
}

/** An MSD folder of one labelled case; `images` writes its image file(s) into imagesTr. */
async function msdFolder(
  json: Record<string, unknown>,
  images: (dir: string) => Promise<void> | void,
): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-msd-channels-'));
  mkdirSync(join(root, 'imagesTr'));
  mkdirSync(join(root, 'labelsTr'));
  await images(join(root, 'imagesTr'));
  const labels = { ...channelVolume(0), data: Uint8Array.from({ length: N }, (_, i) => (i % 7 === 0 ? 1 : 0)) };
  await writeVolume(join(root, 'labelsTr', 'case1.nii.gz'), { ...labels, pixelType: 'uint8' });
  writeFileSync(join(root, 'dataset.json'), JSON.stringify(json));
  return root;
}

const expectTwoChannels = (v: Volume, what: string) => {
  assert.equal(channelCount(v), 2, `${what}: 2 channels`);
  assert.deepEqual(v.size, GRID.size, `${what}: size`);
  assert.ok(sameGrid(v, channelVolume(0)), `${what}: the grid (spacing, origin, direction)`);
  for (const [i, c] of [
    [0, 0],
    [17, 0],
    [N - 1, 0],
    [0, 1],
    [53, 1],
    [N - 1, 1],
  ])
    assert.equal(v.data[c * N + i], value(i, c), `${what}: channel ${c}, voxel ${i}`);
};

test('MSD with modality and NAME_0000 / NAME_0001 files, a 4-D NIfTI, nnU-Net v2: 2 channels alike', async () => {
  const modality = { modality: { 0: 'T2', 1: 'ADC' }, labels: { 0: 'background', 1: 'prostate' } };
  const training = [{ image: './imagesTr/case1.nii.gz', label: './labelsTr/case1.nii.gz' }];
  const split = await msdFolder({ ...modality, training }, async (dir) => {
    await writeVolume(join(dir, 'case1_0000.nii.gz'), channelVolume(0));
    await writeVolume(join(dir, 'case1_0001.nii.gz'), channelVolume(1));
  });
  const a = readMsd(split);
  assert.deepEqual(a.channels, ['T2', 'ADC']);
  assert.deepEqual(
    a.training.map((c) => [c.id, c.channelFiles?.map((f) => f.slice(split.length))]),
    [['case1', ['/imagesTr/case1_0000.nii.gz', '/imagesTr/case1_0001.nii.gz']]],
  );
  expectTwoChannels((await loadCase(a.training[0])).image, 'NAME_0000 files');

  // MSD's own layout: one 4-D file, the channels on its last axis (built byte by byte).
  const fourD = await msdFolder({ ...modality, training }, (dir) => {
    writeFileSync(join(dir, 'case1.nii.gz'), nifti4d(2));
  });
  const b = readMsd(fourD);
  assert.equal(b.training[0].channelFiles, undefined);
  const read = (await loadCase(b.training[0])).image;
  expectTwoChannels(read, '4-D NIfTI');
  // The project's writer writes several channels as a 4-D file that reads back the same.
  const again = join(fourD, 'again.nii.gz');
  await writeVolume(again, stackChannels([channelVolume(0), channelVolume(1)]));
  expectTwoChannels(await readVolume(again), 'written 4-D');

  // nnU-Net v2: channel_names, labels name → value, no lists (the files of imagesTr).
  const v2 = await msdFolder(
    { channel_names: { 0: 'T2', 1: 'ADC' }, labels: { background: 0, prostate: 1 }, file_ending: '.nii.gz' },
    async (dir) => {
      await writeVolume(join(dir, 'case1_0000.nii.gz'), channelVolume(0));
      await writeVolume(join(dir, 'case1_0001.nii.gz'), channelVolume(1));
    },
  );
  const c = readMsd(v2);
  assert.deepEqual(
    [c.channels, c.labels, c.training.map((t) => t.id)],
    [['T2', 'ADC'], { values: [1], names: ['prostate'] }, ['case1']],
  );
  expectTwoChannels((await loadCase(c.training[0])).image, 'nnU-Net v2');

  // One channel file missing.
  const missing = await msdFolder({ ...modality, training }, async (dir) => {
    await writeVolume(join(dir, 'case1_0000.nii.gz'), channelVolume(0));
  });
  assert.throws(
    () => readMsd(missing),
    /training\[0\]\.image \.\/imagesTr\/case1\.nii\.gz: channel file case1_0001\.nii\.gz is missing/,
  );
  // A label map cannot have channels.
  await assert.rejects(
    (await import('../../src/data/io.js')).readLabels(join(fourD, 'imagesTr', 'case1.nii.gz')),
    /2 channels \(a 4-D image\); a label map is one 3-D volume/,
  );
});

test('patches and batches carry every channel; per-patch min–max is per channel', () => {
  const image = normaliseChannels(stackChannels([channelVolume(0), channelVolume(1)]), [
    { kind: 'minmax', min: 0, max: 1 },
    { kind: 'minmax', min: 0, max: 1 },
  ]);
  const labels = Uint8Array.from({ length: N }, (_, i) => (i === 40 ? 1 : 0));
  const sampler = new PaperSampler([{ id: 'a', image, channels: 2, labels, size: GRID.size }], {
    patchSize: [4, 4, 2],
    organs: [1],
    perOrgan: 2,
    background: 0,
    seed: 1,
  });
  const patches = [...sampler.epoch(0)];
  assert.equal(patches.length, 2);
  const p = patches[0];
  assert.equal(p.channels, 2);
  assert.equal(p.image.length, 2 * 32);
  // Channel 1 of the patch is channel 0 plus 1000 wherever the patch is inside the volume.
  for (let i = 0; i < 32; i++) if (p.image[i] !== 0) assert.equal(p.image[32 + i] - p.image[i], 1000);
  const { image: x, target } = toBatch(patches, [1]);
  assert.deepEqual(x.shape, [2, 2, 2, 4, 4]);
  assert.deepEqual(target.shape, [2, 1, 2, 4, 4]);
  const v = x.toFloat32Array();
  for (let ch = 0; ch < 4; ch++) {
    const run = v.slice(ch * 32, (ch + 1) * 32);
    assert.equal(Math.min(...run), 0, `item ${ch >> 1}, channel ${ch & 1}: min 0`);
    assert.equal(Math.max(...run), 1, `item ${ch >> 1}, channel ${ch & 1}: max 1`);
  }
  x.dispose();
  target.dispose();
  const odd: Patch = { ...p, channels: 1, image: p.image.slice(0, 32) };
  assert.throws(() => toBatch([p, odd], [1]), /toBatch: patch of case 'a' has 32 image values, 1 channel/);
});
