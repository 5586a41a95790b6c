// The page's NIfTI reader and writer (no ITK) against ITK's reading of the same real files: the
// same voxels (scaling, big-endian, extensions, 4-D), the same spacing; a label map written under
// a scan's header reads back through ITK on exactly the scan's grid. Bad files: clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNifti, writeNiftiLike } from '../../src/data/nifti-lite.js';
import { readVolume } from '../../src/data/io.js';
import { sameGrid } from '../../src/data/volume.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

const FILES = [
  'pet-sts/STS_001/PET_image.nii.gz',
  'pet-sts/STS_001/PET_mask.nii.gz',
  'nifti-edge-cases/nibabel/anatomical.nii', // big-endian int16
  'nifti-edge-cases/nibabel/reoriented_anat_moved.nii', // big-endian float32
  'nifti-edge-cases/nibabel/example4d.nii.gz', // 4-D, header extensions
  'nifti-edge-cases/niivue/AIL.nii.gz', // uint8 scaled by 0.363
  'nifti-edge-cases/niivue/shear.nii.gz', // slope and intercept
  'nifti-edge-cases/niivue/minimal.nii.gz', // scl_slope 0: no scaling
  'nifti-edge-cases/niivue/aal.nii.gz', // vox_offset 2368
];

test('readNifti gives ITK’s voxels and spacing on real files', { skip: skipWithoutData }, async () => {
  for (const f of FILES) {
    const path = join(SHARED_DATA, f);
    const mine = readNifti(new Uint8Array(readFileSync(path)), f).volume;
    const itk = await readVolume(path);
    assert.deepEqual(mine.size, itk.size, `${f}: size`);
    assert.equal(mine.channels ?? 1, itk.channels ?? 1, `${f}: channels`);
    mine.spacing.forEach((s, i) => assert.ok(Math.abs(s - itk.spacing[i]) < 1e-5, `${f}: spacing ${mine.spacing}`));
    assert.equal(mine.data.length, itk.data.length, `${f}: voxels`);
    let worst = 0;
    for (let i = 0; i < itk.data.length; i++)
      worst = Math.max(worst, Math.abs(mine.data[i] - itk.data[i]) / (1 + Math.abs(itk.data[i])));
    assert.ok(worst < 1e-6, `${f}: max relative difference ${worst}`);
  }
});

test(
  'a label map written under a scan’s header reads back (ITK) on the scan’s grid',
  { skip: skipWithoutData },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'comboseg-nifti-lite-'));
    for (const f of ['pet-sts/STS_002/PET_image.nii.gz', 'nifti-edge-cases/nibabel/anatomical.nii']) {
      const path = join(SHARED_DATA, f);
      const scan = readNifti(new Uint8Array(readFileSync(path)), f);
      const n = scan.volume.size[0] * scan.volume.size[1] * scan.volume.size[2];
      const labels = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 2 : i % 5 === 0 ? 1 : 0));
      const out = join(dir, 'labels.nii.gz');
      writeFileSync(out, writeNiftiLike(scan, labels));
      const [back, ref] = [await readVolume(out), await readVolume(path)];
      assert.ok(sameGrid(back, ref.channels ? { ...ref, channels: 1 } : ref), `${f}: the scan's grid`);
      assert.deepEqual([...back.data], [...labels], `${f}: the values`);
      const probs = Float32Array.from({ length: n }, (_, i) => (i % 100) / 100);
      writeFileSync(out, writeNiftiLike(scan, probs));
      assert.equal((await readVolume(out)).data[37], probs[37]);
    }
  },
);

test(
  'spatial units: a header in metres or microns gives ITK’s millimetre spacing',
  { skip: skipWithoutData },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'comboseg-nifti-units-'));
    const scan = readNifti(new Uint8Array(readFileSync(join(SHARED_DATA, 'pet-sts/STS_001/PET_image.nii.gz'))), 'x');
    for (const [code, name] of [
      [1, 'metres'],
      [3, 'microns'],
    ] as const) {
      const header = scan.header.slice();
      header[123] = (header[123] & ~7) | code;
      const file = join(dir, `${name}.nii.gz`);
      writeFileSync(file, writeNiftiLike({ ...scan, header }, Float32Array.from(scan.volume.data)));
      const [mine, itk] = [readNifti(new Uint8Array(readFileSync(file)), file).volume, await readVolume(file)];
      mine.spacing.forEach((v, i) =>
        assert.ok(
          Math.abs(v - itk.spacing[i]) <= 1e-6 * itk.spacing[i],
          `${name}: ${mine.spacing} vs ITK ${itk.spacing}`,
        ),
      );
    }
  },
);

test('bad files: NIfTI-2, not NIfTI, truncated, complex — one clear message each', { skip: skipWithoutData }, () => {
  const cases: [string, RegExp][] = [
    ['nifti-edge-cases/nibabel/example_nifti2.nii.gz', /NIfTI-2 is not read in the page/],
    ['nifti-edge-cases/nibabel/invalid.nii', /not a NIfTI-1 file|shorter than/],
    ['nifti-edge-cases/niivue/complex.nii.gz', /pixel type code 32/],
  ];
  for (const [f, why] of cases) {
    const bytes = new Uint8Array(readFileSync(join(SHARED_DATA, f)));
    assert.throws(() => readNifti(bytes, f), why, f);
  }
  const whole = new Uint8Array(readFileSync(join(SHARED_DATA, 'nifti-edge-cases/nibabel/anatomical.nii')));
  assert.throws(() => readNifti(whole.subarray(0, 5000), 'cut.nii'), /cut\.nii: truncated/);
});
