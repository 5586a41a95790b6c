// Reading real files against nibabel (test/fixtures/nibabel-reference.json,
// made by scripts/nibabel-reference.py), rejecting bad files cleanly, and round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { data, ComboSegError } from '../../src/index.js';
import { withData } from '../../src/data/volume.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';
import { assertClose } from '../helpers.js';

interface Ref {
  size?: number[];
  spacing: number[];
  origin: number[];
  direction: number[];
  min: number;
  max: number;
  mean: number;
  sum: number;
  samples: Record<string, number>;
  error?: string;
  skip?: string;
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/nibabel-reference.json', import.meta.url), 'utf8'),
) as Record<string, Ref>;

// Where the two readers may rightly differ on geometry (values must still agree):
// - shear.nii.gz: ITK keeps only the rotation of a sheared affine (it has no shear); nibabel keeps the shear;
// - minimal.nii.gz: no qform and no sform, so no orientation at all: nibabel falls back to the
//   Analyze convention (x flipped, centred origin), ITK to identity at the origin.
const SHEARED = new Set(['nifti-edge-cases/niivue/shear.nii.gz', 'nifti-edge-cases/niivue/minimal.nii.gz']);

test(
  'every readable NIfTI file in ../shared/data matches nibabel (values, size, spacing, origin, direction in LPS)',
  { skip: skipWithoutData },
  async () => {
    let checked = 0;
    for (const [rel, ref] of Object.entries(reference)) {
      if (!ref.size) continue;
      const v = await data.readVolume(join(SHARED_DATA, rel));
      assert.deepEqual(v.size, ref.size, `${rel}: size`);
      assertClose(v.spacing, ref.spacing, 1e-4, `${rel}: spacing`);
      if (!SHEARED.has(rel)) {
        assertClose(v.direction, ref.direction, 1e-4, `${rel}: direction`);
        assertClose(v.origin, ref.origin, 1e-3, `${rel}: origin`);
      }
      let min = Infinity,
        max = -Infinity,
        sum = 0;
      for (let i = 0; i < v.data.length; i++) {
        const x = v.data[i];
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
      }
      assertClose([min, max, sum / v.data.length], [ref.min, ref.max, ref.mean], 1e-5, `${rel}: min/max/mean`);
      for (const [i, want] of Object.entries(ref.samples))
        assertClose([v.data[Number(i)]], [want], 1e-5, `${rel}: voxel ${i}`);
      checked++;
    }
    assert.ok(checked >= 90, `${checked} files compared`);
  },
);

test('bad files are rejected with one clear error naming the file', { skip: skipWithoutData }, async () => {
  const edge = join(SHARED_DATA, 'nifti-edge-cases');
  const cases: [string, RegExp][] = [
    ['nibabel/invalid.nii', /shorter than a NIfTI header|no NIfTI/],
    ['nibabel/invalid.nii.gz', /shorter than a NIfTI header|gzip|no NIfTI/],
    ['nibabel/analyze.hdr', /image file .*analyze.img is missing/],
    ['nibabel/nifti1.hdr', /image file .*nifti1.img is missing/],
    ['nibabel/nifti2.hdr', /NIfTI-2/],
    ['nibabel/example_nifti2.nii.gz', /NIfTI-2/],
    ['nibabel/row_major.dconn.nii', /CIFTI file/],
    ['niivue/complex.nii.gz', /unsupported pixel type complex64/],
    ['ivadomed/rgb_test_file.nii.gz', /unsupported pixel type RGB24/],
  ];
  for (const [rel, why] of cases) {
    const path = join(edge, rel);
    await assert.rejects(data.readVolume(path), (e: unknown) => {
      assert.ok(e instanceof ComboSegError, `${rel}: a ComboSegError, got ${String(e)}`);
      assert.ok((e as Error).message.startsWith(path), `${rel}: names the file`);
      assert.match((e as Error).message, why, rel);
      return true;
    });
  }
});

test('4-D NIfTI files read as channels on one grid (the 4th axis)', { skip: skipWithoutData }, async () => {
  const edge = join(SHARED_DATA, 'nifti-edge-cases', 'nibabel');
  for (const [file, size, channels] of [
    ['example4d.nii.gz', [128, 96, 24], 2],
    ['functional.nii', [17, 21, 3], 20],
  ] as const) {
    const v = await data.readVolume(join(edge, file));
    assert.deepEqual([v.size, v.channels, v.data.length], [size, channels, channels * size[0] * size[1] * size[2]]);
    await assert.rejects(data.readLabels(join(edge, file)), /a label map is one 3-D volume/);
  }
});

test('truncated, mislabelled and missing files are rejected cleanly (no crash, nothing written)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-bad-'));
  const vol = {
    data: new Int16Array(4 * 5 * 6).map((_, i) => i),
    size: [4, 5, 6] as [number, number, number],
    spacing: [1, 2, 3] as [number, number, number],
    origin: [0, 0, 0] as [number, number, number],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    pixelType: 'int16',
  };
  await data.writeVolume(join(dir, 'good.nii'), vol);
  const good = readFileSync(join(dir, 'good.nii'));
  writeFileSync(join(dir, 'short.nii'), good.subarray(0, good.length - 50));
  await assert.rejects(
    data.readVolume(join(dir, 'short.nii')),
    /short.nii: header promises 240 bytes of voxel data \(4×5×6 int16\) but the file holds 190/,
  );
  await data.writeVolume(join(dir, 'good.nii.gz'), vol);
  const gz = readFileSync(join(dir, 'good.nii.gz'));
  writeFileSync(join(dir, 'cut.nii.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
  await assert.rejects(
    data.readVolume(join(dir, 'cut.nii.gz')),
    (e: unknown) => e instanceof ComboSegError && /cut.nii.gz: /.test((e as Error).message),
  );
  writeFileSync(join(dir, 'text.nrrd'), 'hello, not an image\n');
  await assert.rejects(data.readVolume(join(dir, 'text.nrrd')), /text.nrrd: no NRRD magic/);
  writeFileSync(join(dir, 'empty.mha'), '');
  await assert.rejects(data.readVolume(join(dir, 'empty.mha')), /empty.mha: empty file/);
  await assert.rejects(data.readVolume(join(dir, 'scan.png')), /scan.png: no such file/);
  writeFileSync(join(dir, 'scan.png'), 'x');
  await assert.rejects(data.readVolume(join(dir, 'scan.png')), /unsupported file type/);
  await assert.rejects(data.writeVolume(join(dir, 'nowhere', 'x.nii'), vol), /folder .* does not exist/);
  await assert.rejects(data.writeVolume(join(dir, 'bad.nii'), { ...vol, size: [9, 9, 9] }), /needs 729/);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('.') || f === 'bad.nii'),
    [],
    'no partial or temporary output',
  );
});

test('read → write → read keeps data and geometry in every supported format', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-rt-'));
  const size: [number, number, number] = [7, 5, 3];
  const c = Math.cos(0.3),
    s = Math.sin(0.3);
  const direction = [c, -s, 0, s, c, 0, 0, 0, -1]; // rotated and flipped: geometry must survive exactly
  for (const [ctor, pixelType] of [
    [Float32Array, 'float32'],
    [Int16Array, 'int16'],
    [Uint8Array, 'uint8'],
  ] as const) {
    const vol = {
      data: new ctor(105).map((_, i) => (i * 7) % 101),
      size,
      spacing: [0.8, 1.5, 4] as [number, number, number],
      origin: [-10.5, 20.25, 3] as [number, number, number],
      direction,
      pixelType,
    };
    for (const ext of ['.nii', '.nii.gz', '.hdr', '.nrrd', '.mha', '.mhd']) {
      const path = join(dir, `vol-${pixelType}${ext}`);
      await data.writeVolume(path, vol);
      const back = await data.readVolume(path);
      assert.deepEqual(back.size, size, ext);
      assert.equal(back.data.constructor, ctor, `${ext} ${pixelType}: element type kept`);
      assert.deepEqual(Array.from(back.data), Array.from(vol.data), `${ext} ${pixelType}: data`);
      assertClose(back.spacing, vol.spacing, 1e-6, `${ext}: spacing`);
      assertClose(back.origin, vol.origin, 1e-5, `${ext}: origin`);
      assertClose(back.direction, direction, 1e-6, `${ext}: direction`);
    }
  }
});

test(
  'a real PET scan and its mask survive a round trip with geometry (prediction aligned on its scan)',
  { skip: skipWithoutData },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'comboseg-pet-'));
    const scan = await data.readVolume(join(SHARED_DATA, 'pet-sts/STS_001/PET_image.nii.gz'));
    const mask = await data.readLabels(join(SHARED_DATA, 'pet-sts/STS_001/PET_mask.nii.gz'));
    const pred = data.withData(scan, mask.data, 'uint8');
    await data.writeVolume(join(dir, 'pred.nii.gz'), pred);
    const back = await data.readLabels(join(dir, 'pred.nii.gz'));
    assert.ok(data.sameGrid(back, scan), 'prediction on the scan grid');
    assert.deepEqual(Array.from(back.data), Array.from(mask.data));
    copyFileSync(join(SHARED_DATA, 'pet-sts/STS_001/PET_mask.nii.gz'), join(dir, 'copy.nii.gz'));
  },
);

/** A NIfTI-1 file written byte by byte: int32 voxels with scl_slope 2.3e-10 and scl_inter 0.5. */
function scaledInt32Mask(labels: number[], size: [number, number, number]): Buffer {
  const h = Buffer.alloc(352);
  h.writeInt32LE(348, 0);
  [3, ...size, 1, 1, 1, 1].forEach((d, i) => h.writeInt16LE(d, 40 + 2 * i));
  h.writeInt16LE(8, 70); // datatype int32
  h.writeInt16LE(32, 72);
  [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => h.writeFloatLE(p, 76 + 4 * i));
  h.writeFloatLE(352, 108);
  h.writeFloatLE(2.3e-10, 112);
  h.writeFloatLE(0.5, 116);
  h.writeInt16LE(1, 254); // sform_code 1, identity rows
  [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
  ].forEach((row, r) => row.forEach((v, c) => h.writeFloatLE(v, 280 + 16 * r + 4 * c)));
  h.write('n+1\0', 344, 'latin1');
  const body = Buffer.alloc(4 * labels.length);
  labels.forEach((l, i) => body.writeInt32LE(l ? 2147483647 : -2147483647, 4 * i)); // 0.5 ± 0.494 after scaling
  return Buffer.concat([h, body]);
}

test('a mask stored int32 with slope 2.3e-10 and intercept 0.5 reads as its labels (not empty)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-scaled-'));
  const labels = Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? 1 : 0));
  writeFileSync(join(dir, 'mask.nii'), scaledInt32Mask(labels, [2, 3, 4]));
  const raw = await data.readVolume(join(dir, 'mask.nii'));
  assert.equal(raw.pixelType, 'int32');
  assert.ok(Math.abs(raw.data[0] - (0.5 + 2.3e-10 * 2147483647)) < 1e-3, 'scl_slope / scl_inter applied on read');
  assert.equal(
    Array.from(raw.data)
      .map(Math.trunc)
      .reduce((a, b) => a + b, 0),
    0,
    'a truncating cast would make the mask empty',
  );
  const mask = await data.readLabels(join(dir, 'mask.nii'));
  assert.deepEqual(Array.from(mask.data), labels);
});

test('a volume whose data is a view into a larger buffer is written as that view', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-view-'));
  const big = Float32Array.from({ length: 3 * 24 }, (_, i) => i);
  const view = big.subarray(24, 48);
  await data.writeVolume(join(dir, 'v.nii.gz'), {
    data: view,
    size: [2, 3, 4],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    pixelType: 'float32',
  });
  assert.deepEqual(Array.from((await data.readVolume(join(dir, 'v.nii.gz'))).data), Array.from(view));
});

test('label maps are rounded, never truncated', () => {
  // A mask stored as int32 with slope 2.3e-10 and intercept 0.5 reads back as values near 0 and 1
  // that a cast would truncate to 0; rounding gives the labels.
  const scaled = Float32Array.from([0.5 - 2.3e-10 * 2.1e9, 0.5 + 2.3e-10 * 2.1e9, 0.4999, 1.9999, 2.0001]);
  assert.deepEqual(Array.from(data.toLabelArray(scaled, 'test')), [0, 1, 0, 2, 2]);
  assert.throws(
    () => data.toLabelArray(Float32Array.from([1, -1]), 'mask.nii'),
    /mask.nii: label map holds -1 at voxel 1/,
  );
  assert.equal(data.toLabelArray(Float32Array.from([300]), 'x').constructor, Uint16Array);
});

test('concurrent reads print nothing and never touch the console (ITK runs in its own thread)', async () => {
  // In a child process, so that everything it prints, from any thread, is seen.
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-quiet-'));
  const vol = (ctor: Float32ArrayConstructor | Int16ArrayConstructor) => ({
    data: new ctor(6 * 5 * 4).map((_, i) => i % 17),
    size: [6, 5, 4] as [number, number, number],
    spacing: [1, 1, 2] as [number, number, number],
    origin: [0, 0, 0] as [number, number, number],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    pixelType: ctor === Float32Array ? 'float32' : 'int16',
  });
  await data.writeVolume(join(dir, 'a.nii.gz'), vol(Float32Array));
  await data.writeVolume(join(dir, 'b.nrrd'), vol(Int16Array));
  // ITK fails on this one: itk-wasm prints "Exception while running pipeline" and ITK's complaint. (Short
  // binary data never reach ITK now: ASCII data, whose length says little, do.)
  const mha =
    'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\nBinaryData = False\n' +
    'ElementDataFile = LOCAL\n';
  writeFileSync(join(dir, 'short.mha'), `${mha}1 2 3 4 5 6 7     `);
  const io = new URL('../../src/data/io.ts', import.meta.url).href;
  const script = `
    const { readVolume } = await import(${JSON.stringify(io)});
    const { log, error, warn } = console;
    const same = () => console.log === log && console.error === error && console.warn === warn;
    const seen = [same()];
    const watch = setInterval(() => seen.push(same()), 1);
    const files = ['a.nii.gz', 'b.nrrd', 'short.mha'].map((f) => ${JSON.stringify(dir)} + '/' + f);
    const reads = Promise.allSettled(files.map((f) => readVolume(f)));
    seen.push(same());
    const [a, b, bad] = await reads;
    clearInterval(watch);
    await new Promise((r) => setTimeout(r, 300)); // anything printed late by another thread
    seen.push(same());
    process.stdout.write(JSON.stringify({
      seen: [...new Set(seen)], ticks: seen.length, sizes: [a.value?.size, b.value?.size],
      types: [a.value?.data.constructor.name, b.value?.data.constructor.name],
      bad: bad.status === 'rejected' ? { code: bad.reason.code, path: bad.reason.path, message: bad.reason.message }
        : null,
    }));`;
  const args = ['--import', 'tsx', '--input-type=module', '-e', script];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(child.stderr, '', 'nothing on stderr');
  assert.equal(child.status, 0);
  const out = JSON.parse(child.stdout) as {
    seen: boolean[];
    ticks: number;
    sizes: number[][];
    types: string[];
    bad: { code: string; path: string; message: string } | null;
  };
  assert.deepEqual(out.seen, [true], 'console.log/error/warn are the same functions before, during and after');
  assert.ok(out.ticks >= 3);
  assert.deepEqual(
    out.sizes,
    [
      [6, 5, 4],
      [6, 5, 4],
    ],
    'both reads succeed',
  );
  assert.deepEqual(out.types, ['Float32Array', 'Int16Array']);
  assert.equal(out.bad?.code, 'bad-file');
  assert.equal(out.bad.path, join(dir, 'short.mha'));
  const reason = /short\.mha: ITK raised an exception .*M_ReadElementsData/;
  assert.match(out.bad.message, reason, "ITK's reason is in the error, not on the console");
});

test('a symbolic link to a scan reads like the scan (ITK itself does not follow links)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-symlink-'));
  try {
    const vol = withData(
      { size: [4, 3, 2], spacing: [1, 1, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
      Float32Array.from({ length: 24 }, (_, i) => i),
      'float32',
    );
    await data.writeVolume(join(dir, 'scan.nii.gz'), vol);
    symlinkSync(join(dir, 'scan.nii.gz'), join(dir, 'link.nii.gz'));
    const viaLink = await data.readVolume(join(dir, 'link.nii.gz'));
    assert.deepEqual(Array.from(viaLink.data), Array.from(vol.data));
    assert.deepEqual(viaLink.size, [4, 3, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
