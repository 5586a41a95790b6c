// Trusting no input (issue 14): truncated and corrupt compressed files, headers promising more
// than a file can hold or than memory allows, sizes that would overflow 32 bits, bad spacing,
// NaN voxels, and compressed .hdr.gz/.img.gz pairs. One test per row of the audit's table.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ComboSegError } from '../../src/engine/errors.js';
import { readLabels, readVolume, writeVolume } from '../../src/data/io.js';
import { indexToPhysical, type Vec3, type Volume } from '../../src/data/volume.js';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

// Not ../helpers.js: reading files needs no libtorch, and neither does this test.
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]`);
}

const dir = mkdtempSync(join(tmpdir(), 'comboseg-trust-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A NIfTI-1 file byte by byte: qform_code 1 with an identity rotation, scl_slope 0 (no scaling). */
function nifti(o: { dims: number[]; datatype: number; bitpix: number; pixdim?: number[]; body?: Buffer }): Buffer {
  const h = Buffer.alloc(352);
  h.writeInt32LE(348, 0);
  const dims = [o.dims.length, ...o.dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  dims.forEach((d, i) => h.writeInt16LE(d, 40 + 2 * i));
  h.writeInt16LE(o.datatype, 70);
  h.writeInt16LE(o.bitpix, 72);
  [1, ...(o.pixdim ?? [1, 1, 1]), 1, 1, 1, 1].slice(0, 8).forEach((p, i) => h.writeFloatLE(p, 76 + 4 * i));
  h.writeFloatLE(352, 108);
  h.writeInt16LE(1, 252); // qform_code 1; quatern b, c, d = 0: identity
  h.write('n+1\0', 344, 'latin1');
  return Buffer.concat([h, o.body ?? Buffer.alloc(0)]);
}

/** A 48×48×40 int16 scan of deterministic noise (~170 KB as .nii.gz: truncations land inside the stream). */
function noiseScan(): Buffer {
  const body = Buffer.alloc(48 * 48 * 40 * 2);
  let x = 12345;
  for (let i = 0; i < body.length / 2; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    body.writeInt16LE((x >>> 16) - 32768, 2 * i);
  }
  return nifti({ dims: [48, 48, 40], datatype: 4, bitpix: 16, pixdim: [1.5, 1.5, 3], body });
}

/** Asserts that reading `path` fails with one ComboSegError naming the file, of `code`, matching `why`. */
async function refused(path: string, why: RegExp, code = 'bad-file'): Promise<ComboSegError> {
  let caught: unknown = null;
  try {
    await readVolume(path);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ComboSegError, `${path}: a ComboSegError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${path}: ${caught.message}`);
  assert.equal(caught.path, path);
  assert.ok(caught.message.startsWith(`${path}: `), `names the file: ${caught.message}`);
  assert.match(caught.message, why);
  return caught;
}

const write = (name: string, bytes: Buffer) => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};

test('a truncated .nii.gz (3000 B, 50 %, 90 %, 99 %) is refused as truncated, never zero-filled', async () => {
  const gz = gzipSync(noiseScan());
  assert.ok(gz.length > 100_000);
  const whole = await readVolume(write('whole.nii.gz', gz));
  assert.deepEqual(whole.size, [48, 48, 40]);
  for (const [label, n] of [
    ['3000B', 3000],
    ['50pc', Math.floor(gz.length * 0.5)],
    ['90pc', Math.floor(gz.length * 0.9)],
    ['99pc', Math.floor(gz.length * 0.99)],
    ['trailer', gz.length - 4], // only the length trailer missing
  ] as const) {
    await refused(write(`cut-${label}.nii.gz`, gz.subarray(0, n)), /truncated/);
  }
});

test('a bad gzip CRC, a bad length trailer and a corrupted deflate body are refused as corrupt', async () => {
  const gz = gzipSync(noiseScan());
  const crc = Buffer.from(gz);
  crc[gz.length - 8] ^= 0xff; // CRC-32 trailer
  await refused(write('crc.nii.gz', crc), /corrupt: the gzip data fail their checksum \(CRC-32\)/);
  const isize = Buffer.from(gz);
  isize[gz.length - 4] ^= 0x01; // ISIZE trailer
  await refused(write('isize.nii.gz', isize), /corrupt/);
  for (const at of [0.3, 0.5, 0.8]) {
    const body = Buffer.from(gz);
    const i = Math.floor(gz.length * at);
    for (let k = 0; k < 16; k++) body[i + k] ^= 0x5a;
    await refused(write(`body-${at}.nii.gz`, body), /corrupt|truncated/);
  }
});

test('a tiny .nii.gz claiming 512³ or 1024³, a 4-byte compressed .mha claiming 1024³: refused at once', async () => {
  for (const n of [512, 1024]) {
    const gz = gzipSync(nifti({ dims: [n, n, n], datatype: 2, bitpix: 8 }));
    assert.ok(gz.length < 120, `${gz.length} bytes`);
    const t = performance.now();
    const rss = process.memoryUsage().rss;
    const e = await refused(write(`claim-${n}.nii.gz`, gz), /truncated or corrupt: the header promises \d+ bytes/);
    assert.match(e.message, new RegExp(`${n}×${n}×${n} uint8`));
    assert.ok(performance.now() - t < 2000, 'refused before decompression');
    assert.ok(process.memoryUsage().rss - rss < 100 * 2 ** 20, 'nothing allocated for the claim');
  }
  const mha =
    'ObjectType = Image\nNDims = 3\nBinaryData = True\nCompressedData = True\nCompressedDataSize = 4\n' +
    'DimSize = 1024 1024 1024\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n';
  const t = performance.now();
  await refused(
    write('claim.mha', Buffer.concat([Buffer.from(mha), Buffer.from([0x78, 0x9c, 3, 0])])),
    /the header promises 1073741824 bytes \(1024×1024×1024 MET_UCHAR\), more than 4 bytes of zlib data can hold/,
  );
  assert.ok(performance.now() - t < 2000);
});

test('dims 32767³: sizes computed without 32-bit overflow, refused before anything is allocated', async () => {
  const voxels = 32767n ** 3n;
  // Compressed: the promise (header + 2 bytes a voxel) is stated exactly, not wrapped.
  const gz = gzipSync(nifti({ dims: [32767, 32767, 32767], datatype: 4, bitpix: 16, body: Buffer.alloc(4096) }));
  const e = await refused(write('huge.nii.gz', gz), /truncated or corrupt/);
  assert.ok(e.message.includes(`promises ${voxels * 2n + 352n} bytes (32767×32767×32767 int16)`), e.message);
  // Uncompressed: the file cannot hold it.
  const raw = nifti({ dims: [32767, 32767, 32767], datatype: 2, bitpix: 8, body: Buffer.alloc(4096) });
  const r = await refused(write('huge.nii', raw), /header promises \d+ bytes of voxel data/); // truncation first
  assert.ok(r.message.includes(`${voxels} bytes of voxel data (32767×32767×32767 uint8) but the file holds 4096`));
});

test('a volume above COMBOSEG_MAX_VOXELS is refused (unsupported) before it is decoded', async () => {
  const path = write('small.nii.gz', gzipSync(noiseScan()));
  const before = process.env.COMBOSEG_MAX_VOXELS;
  try {
    process.env.COMBOSEG_MAX_VOXELS = '50000';
    await refused(
      path,
      /92160 voxels \(48×48×40 int16\), above the limit of 50000 \(COMBOSEG_MAX_VOXELS\)/,
      'unsupported',
    );
    process.env.COMBOSEG_MAX_VOXELS = 'lots';
    await assert.rejects(readVolume(path), (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option');
    process.env.COMBOSEG_MAX_VOXELS = String(48 * 48 * 40);
    assert.deepEqual((await readVolume(path)).size, [48, 48, 40]);
  } finally {
    if (before === undefined) delete process.env.COMBOSEG_MAX_VOXELS;
    else process.env.COMBOSEG_MAX_VOXELS = before;
  }
});

const smallBody = () => Buffer.from(Int16Array.from({ length: 4 * 3 * 2 }, (_, i) => i).buffer);

test('spacing NaN, 0 and ±Infinity is refused; a negative one is folded into the direction', async () => {
  for (const [label, s] of [
    ['nan', NaN],
    ['zero', 0],
    ['inf', Infinity],
    ['minf', -Infinity],
  ] as const) {
    const file = nifti({ dims: [4, 3, 2], datatype: 4, bitpix: 16, pixdim: [2, s, 1], body: smallBody() });
    await refused(write(`sp-${label}.nii.gz`, gzipSync(file)), new RegExp(`spacing ${s} along y \\(pixdim\\)`));
  }
  const mha = (sp: string) =>
    `ObjectType = Image\nNDims = 3\nDimSize = 4 3 2\nElementSpacing = ${sp}\nElementType = MET_SHORT\n` +
    'ElementDataFile = LOCAL\n';
  await refused(write('sp-nan.mha', Buffer.concat([Buffer.from(mha('1 nan 1')), smallBody()])), /spacing NaN along y/);
  const nrrd = 'NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nspacings: 1 1 0\nencoding: raw\nendian: little\n\n';
  await refused(write('sp-0.nrrd', Buffer.concat([Buffer.from(nrrd), smallBody()])), /spacing 0 along z/);
  // −4 along x: the x axis runs the other way. ITK reports spacing −4 with the header's direction
  // (NIfTI: RAS identity, i.e. LPS diag(−1, −1, 1); MetaImage: identity); comboseg reports 4 with
  // that direction's x column flipped, so voxel (3, 2, 1) stays at origin + D · diag(−4, 2, 1) · (3, 2, 1).
  const ijk: Vec3 = [3, 2, 1];
  for (const [name, bytes, column, offset] of [
    [
      'sp-neg.nii.gz',
      gzipSync(nifti({ dims: [4, 3, 2], datatype: 4, bitpix: 16, pixdim: [-4, 2, 1], body: smallBody() })),
      [1, 0, 0],
      [12, -4, 1],
    ],
    ['sp-neg.mha', Buffer.concat([Buffer.from(mha('-4 2 1')), smallBody()]), [-1, 0, 0], [-12, 4, 1]],
  ] as const) {
    const v = await readVolume(write(name, bytes));
    assert.deepEqual(v.spacing, [4, 2, 1], name);
    const d = v.direction;
    assertClose([d[0], d[3], d[6]], column, 0, `${name}: x column flipped`);
    assert.deepEqual(Array.from(v.data), Array.from(new Int16Array(smallBody().buffer)), `${name}: data as stored`);
    const at = indexToPhysical(v, ijk).map((x, i) => x - v.origin[i]);
    assertClose(at, offset, 1e-9, `${name}: voxel (3, 2, 1) where ITK put it`);
  }
});

test('NaN and ±Infinity voxels are refused with their count, or replaced when asked', async () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i + 1);
  data[5] = NaN;
  data[6] = Infinity;
  data[20] = -Infinity;
  const vol: Volume = {
    data,
    size: [4, 3, 2],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    pixelType: 'float32',
  };
  for (const ext of ['.nii.gz', '.nii', '.nrrd', '.mha', '.hdr']) {
    const path = join(dir, `nan${ext}`);
    await writeVolume(path, vol);
    await refused(path, /^.*: 3 voxel values are NaN or ±Infinity \(the first at voxel 5\)/);
    await assert.rejects(readLabels(path), /3 voxel values are NaN/);
    const zeroed = await readVolume(path, { nonFinite: 'zero' });
    assert.deepEqual(
      Array.from(zeroed.data),
      Array.from(data, (x) => (Number.isFinite(x) ? x : 0)),
      `${ext}: replaced with 0`,
    );
  }
  await assert.rejects(
    readVolume(join(dir, 'nan.nii'), { nonFinite: 'nan' as 'zero' }),
    (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option',
  );
});

test('.hdr.gz + .img.gz pairs read as their uncompressed pair does; a bad .img.gz is refused', async () => {
  const vol: Volume = {
    data: Int16Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) % 101),
    size: [7, 5, 3],
    spacing: [0.8, 1.5, 4],
    origin: [-10.5, 20.25, 3],
    direction: [0, 1, 0, -1, 0, 0, 0, 0, 1],
    pixelType: 'int16',
  };
  await writeVolume(join(dir, 'pair.hdr'), vol);
  const img = readFileSync(join(dir, 'pair.img'));
  writeFileSync(join(dir, 'zpair.hdr.gz'), gzipSync(readFileSync(join(dir, 'pair.hdr'))));
  writeFileSync(join(dir, 'zpair.img.gz'), gzipSync(img));
  for (const path of [join(dir, 'zpair.hdr.gz'), join(dir, 'zpair.img.gz')]) {
    const v = await readVolume(path);
    assert.deepEqual([v.size, Array.from(v.data), v.pixelType], [vol.size, Array.from(vol.data), 'int16'], path);
    const geometry = (g: Volume) => [...g.spacing, ...g.origin, ...g.direction];
    assertClose(geometry(v), geometry(vol), 1e-6, `${path}: geometry`);
  }
  writeFileSync(join(dir, 'cut.hdr.gz'), gzipSync(readFileSync(join(dir, 'pair.hdr'))));
  writeFileSync(join(dir, 'cut.img.gz'), gzipSync(img).subarray(0, 60));
  await refused(join(dir, 'cut.hdr.gz'), /truncated/);
  writeFileSync(join(dir, 'alone.hdr.gz'), gzipSync(readFileSync(join(dir, 'pair.hdr'))));
  await refused(join(dir, 'alone.hdr.gz'), /header-only file: its image file .*alone\.img\.gz is missing/);
  writeFileSync(join(dir, 'lonely.img.gz'), gzipSync(img));
  await refused(join(dir, 'lonely.img.gz'), /an \.img\.gz file needs its \.hdr\.gz beside it/);
  await assert.rejects(writeVolume(join(dir, 'out.hdr.gz'), vol), /cannot write this file type/);
});

test(
  'a compressed copy of the niivue .hdr/.img pair matches nibabel (the reference of ras.hdr)',
  { skip: skipWithoutData },
  async () => {
    const ref = (
      JSON.parse(readFileSync(new URL('../fixtures/nibabel-reference.json', import.meta.url), 'utf8')) as Record<
        string,
        { size: number[]; spacing: number[]; origin: number[]; direction: number[]; sum: number }
      >
    )['nifti-edge-cases/niivue/ras.hdr'];
    const src = join(SHARED_DATA, 'nifti-edge-cases/niivue/ras');
    writeFileSync(join(dir, 'ras.hdr.gz'), gzipSync(readFileSync(`${src}.hdr`)));
    writeFileSync(join(dir, 'ras.img.gz'), gzipSync(readFileSync(`${src}.img`)));
    const v = await readVolume(join(dir, 'ras.hdr.gz'));
    assert.deepEqual(v.size, ref.size);
    assertClose(v.spacing, ref.spacing, 1e-4, 'spacing');
    assertClose(v.origin, ref.origin, 1e-3, 'origin');
    assertClose(v.direction, ref.direction, 1e-4, 'direction');
    let sum = 0;
    for (const x of v.data) sum += x;
    assertClose([sum], [ref.sum], 1e-6, 'sum');
    assert.ok(existsSync(join(dir, 'ras.img.gz')), 'the pair is left as it was');
  },
);

test(
  'real compressed files from ../shared/data still read (exact lengths, near-maximal ratios)',
  { skip: skipWithoutData },
  async () => {
    // lung1_label.nrrd: 25 MB of labels in 25 KB of gzip, a ratio of ~1007:1, close to deflate's 1032:1.
    for (const rel of ['nrrd-pyradiomics/lung1_label.nrrd', 'nifti-edge-cases/niivue/mha.mha']) {
      const v = await readVolume(join(SHARED_DATA, rel));
      assert.ok(v.data.length > 0, rel);
    }
  },
);
