// Fuzzing the reader (issue 14): a few hundred mutants of small real files (NIfTI .nii.gz, a
// big-endian .nii, an .hdr/.img pair, gzip NRRD, compressed MetaImage), made from a fixed seed:
// truncations, bit flips in header and body, and edited fields (dims, spacing, datatype,
// vox_offset, sizes, types, encodings). Every read must either fail with a ComboSegError naming
// the file or return a volume whose data match its size and channels: never another error,
// never a crash, and the reading process (a child, so that its peak memory is its own) stays
// under 1.5 GB. Bounded: about 20 s on 2 cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SHARED_DATA, skipWithoutData } from './shared-data.js';

const SEED = 20240614;

/** mulberry32: deterministic numbers in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Mutant {
  /** The mutated file's name ends with the source's extension. */
  name: string;
  bytes: Buffer;
  /** A pair's other file, copied beside it unchanged (or mutated, for truncations). */
  companion?: { ext: string; bytes: Buffer };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Flips `n` random bits in [from, to) of a copy. */
function flipBits(r: Rand, b: Buffer, n: number, from: number, to: number): Buffer {
  const out = Buffer.from(b);
  for (let k = 0; k < n && to > from; k++) out[from + Math.floor(r() * (to - from))] ^= 1 << Math.floor(r() * 8);
  return out;
}

/** One edited NIfTI-1 header field, in the file's own byte order. */
function editNifti(r: Rand, header: Buffer): Buffer {
  const h = Buffer.from(header);
  const le = h.readInt32LE(0) === 348;
  const i16 = (o: number, v: number) => (le ? h.writeInt16LE(v, o) : h.writeInt16BE(v, o));
  const f32 = (o: number, v: number) => (le ? h.writeFloatLE(v, o) : h.writeFloatBE(v, o));
  const dim = (k: number) => (le ? h.readInt16LE(40 + 2 * k) : h.readInt16BE(40 + 2 * k));
  const edits: (() => void)[] = [
    () => i16(40, pick(r, [0, 1, 2, 4, 5, 8, -1])),
    () => {
      const k = 1 + Math.floor(r() * 4);
      i16(40 + 2 * k, pick(r, [0, -1, 1, 2, 255, 4096, 32767, -32768, dim(k) * 2, dim(k) + 1, dim(k) - 1]));
    },
    () => f32(76 + 4 * (1 + Math.floor(r() * 3)), pick(r, [NaN, 0, Infinity, -Infinity, -4, 1e-30, 1e30])),
    () => i16(70, pick(r, [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2304, 7, -1])),
    () => i16(72, pick(r, [0, 1, 8, 16, 64, 255])),
    () => f32(108, pick(r, [0, 100, 348, 351, 352.5, 356, 4096, 1e9, -1, NaN, Infinity, 3.4e38])),
    () => f32(112 + 4 * Math.floor(r() * 2), pick(r, [NaN, Infinity, 0, 1e38, -1e38])),
    () => i16(252 + 2 * Math.floor(r() * 2), pick(r, [0, 1, 2, 3, 4, 5, -1])),
    () => f32(256 + 4 * Math.floor(r() * 18), pick(r, [NaN, Infinity, 0, 1e30, -1, 0.5])),
    () => h.write(pick(r, ['ni1\0', 'n+2\0', 'xxxx']), 344, 'latin1'),
    () => (le ? h.writeInt32LE(pick(r, [540, 0, 347]), 0) : h.writeInt32BE(pick(r, [540, 0, 347]), 0)),
    () => i16(68, 3001),
  ];
  pick(r, edits)();
  return h;
}

/** One edited line of a text header (NRRD or MetaImage): `fields` maps a line's start to new values. */
function editText(r: Rand, b: Buffer, fields: [RegExp, string[]][], end: number): Buffer {
  const head = b.toString('latin1', 0, end);
  const [re, values] = pick(r, fields);
  const edited = head.replace(re, (line) => line.replace(/([:=]\s*).*$/, `$1${pick(r, values)}`));
  return Buffer.concat([Buffer.from(edited, 'latin1'), b.subarray(end)]);
}

const NRRD_FIELDS: [RegExp, string[]][] = [
  [/^sizes:.*$/m, ['45 120 210', '45 120 21000', '0 120 21', '-1 120 21', 'a b c', '45 120', '4500 1200 2100']],
  [/^type:.*$/m, ['double', 'uchar', 'block', 'int64', 'float', 'nonsense']],
  [/^encoding:.*$/m, ['raw', 'ascii', 'hex', 'bzip2', 'gz', 'txt']],
  [/^dimension:.*$/m, ['2', '4', '0', '17']],
  [/^space directions:.*$/m, ['(nan,0,0) (0,1,0) (0,0,1)', '(0,0,0) (0,1,0) (0,0,1)', '(-4,0,0) (0,1,0) (0,0,1)']],
  [/^endian:.*$/m, ['big', 'middle']],
];
const MHA_FIELDS: [RegExp, string[]][] = [
  [/^DimSize =.*$/m, ['64 64 370', '64 64 37000', '0 64 37', '640 640 370', '64 64', 'x y z']],
  [/^ElementType =.*$/m, ['MET_DOUBLE', 'MET_UCHAR', 'MET_STRING', 'MET_FLOAT_ARRAY']],
  [/^CompressedData =.*$/m, ['False', 'True', 'maybe']],
  [/^CompressedDataSize =.*$/m, ['0', '1', '99999999', '-5', '131269']],
  [/^ElementSpacing =.*$/m, ['nan 1 1', '0 1 1', '-4 1 1', 'inf 1 1']],
  [/^NDims =.*$/m, ['2', '4', '0']],
  [/^BinaryData =.*$/m, ['False']],
  [/^ElementDataFile =.*$/m, ['other.raw', 'LIST']],
];

/** Mutants of one source file: truncations, bit flips in header and body, edited fields. */
function mutate(r: Rand, path: string, count: number): Mutant[] {
  const src = readFileSync(path);
  const name = basename(path);
  const ext = name.slice(name.indexOf('.'));
  const gz = ext.endsWith('.gz');
  const pairImg = ext === '.hdr' ? readFileSync(path.replace(/\.hdr$/, '.img')) : null;
  const headerEnd = ext === '.nrrd' ? src.indexOf('\n\n') + 2 : ext === '.mha' ? src.indexOf('LOCAL\n') + 6 : 352;
  const out: Mutant[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(r, ['cut', 'flip-head', 'flip-body', 'field', 'field', 'field'] as const);
    let bytes: Buffer = src;
    let companion = pairImg ? { ext: '.img', bytes: pairImg } : undefined;
    if (kind === 'cut' && pairImg && r() < 0.5)
      companion = { ext: '.img', bytes: pairImg.subarray(0, r() * pairImg.length) };
    else if (kind === 'cut') bytes = src.subarray(0, Math.floor(r() * src.length));
    else if (kind === 'flip-head')
      bytes = flipBits(r, src, 1 + Math.floor(r() * 4), 0, Math.min(src.length, headerEnd));
    else if (kind === 'flip-body') bytes = flipBits(r, src, 1 + Math.floor(r() * 8), headerEnd, src.length);
    else if (ext === '.nrrd') bytes = editText(r, src, NRRD_FIELDS, headerEnd);
    else if (ext === '.mha') bytes = editText(r, src, MHA_FIELDS, headerEnd);
    else {
      // NIfTI: the field edited in the decoded header, then compressed again (valid CRC: only the
      // header's promise against the data can catch it).
      const raw = gz ? gunzipSync(src) : src;
      const edited = Buffer.concat([editNifti(r, raw.subarray(0, 348)), raw.subarray(348)]);
      bytes = gz ? gzipSync(edited) : edited;
    }
    out.push({ name: `${name.slice(0, name.indexOf('.'))}-${kind}-${i}${ext}`, bytes, companion });
  }
  return out;
}

const SOURCES: [string, number][] = [
  ['pet-sts/STS_001/PET_mask.nii.gz', 40],
  ['pet-sts/STS_002/PET_image.nii.gz', 40],
  ['nifti-edge-cases/niivue/low_res.nii.gz', 25],
  ['nifti-edge-cases/nibabel/standard.nii.gz', 25],
  ['nifti-edge-cases/nibabel/anatomical.nii', 30],
  ['nifti-edge-cases/sct/t2_seg-manual_labeled_float64.nii.gz', 25],
  ['nifti-edge-cases/niivue/ras.hdr', 25],
  ['nrrd-pyradiomics/breast1_label.nrrd', 35],
  ['nrrd-pyradiomics/prostate_phantom_subvolume-label.nrrd', 25],
  ['nifti-edge-cases/niivue/mha.mha', 40],
];

interface Outcome {
  file: string;
  ok?: { size: number[]; channels: number; length: number };
  error?: { name: string; code?: string; path?: string; message: string };
}

test(
  'fuzzed files: a ComboSegError naming the file or a consistent volume; peak memory < 1.5 GB',
  { skip: skipWithoutData },
  (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'comboseg-fuzz-'));
    ctx.after(() => rmSync(dir, { recursive: true, force: true }));
    const r = prng(SEED);
    const files: string[] = [];
    for (const [rel, count] of SOURCES) {
      for (const m of mutate(r, join(SHARED_DATA, rel), count)) {
        writeFileSync(join(dir, m.name), m.bytes);
        if (m.companion) writeFileSync(join(dir, m.name.replace(/\.hdr$/, m.companion.ext)), m.companion.bytes);
        files.push(join(dir, m.name));
      }
    }
    copyFileSync(join(SHARED_DATA, 'nifti-edge-cases/niivue/mha.mha'), join(dir, 'unchanged.mha'));
    files.push(join(dir, 'unchanged.mha'));
    const io = new URL('../../src/data/io.ts', import.meta.url).href;
    const results = join(dir, 'results.json');
    // The reads run in a child, one after another; its stdout is ITK's (warnings), the outcomes go to a file.
    const script = `
    import { writeFileSync } from 'node:fs';
    const { readVolume } = await import(${JSON.stringify(io)});
    const files = ${JSON.stringify(files)};
    const out = [];
    for (const file of files) {
      try {
        const v = await readVolume(file);
        out.push({ file, ok: { size: v.size, channels: v.channels ?? 1, length: v.data.length } });
      } catch (e) {
        out.push({ file, error: { name: e?.name, code: e?.code, path: e?.path, message: String(e?.message) } });
      }
    }
    writeFileSync(${JSON.stringify(results)}, JSON.stringify({ out, maxRSS: process.resourceUsage().maxRSS }));`;
    const t = performance.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const seconds = (performance.now() - t) / 1000;
    assert.equal(child.status, 0, `the reading process ended with ${child.status} ${child.signal}: ${child.stderr}`);
    const { out, maxRSS } = JSON.parse(readFileSync(results, 'utf8')) as { out: Outcome[]; maxRSS: number };
    assert.equal(out.length, files.length);
    let read = 0;
    for (const o of out) {
      if (o.ok) {
        const { size, channels, length } = o.ok;
        assert.equal(length, size[0] * size[1] * size[2] * channels, `${o.file}: data match size × channels`);
        read++;
        continue;
      }
      const e = o.error;
      assert.ok(e, o.file);
      assert.equal(e.name, 'ComboSegError', `${o.file}: ${e.name}: ${e.message}`);
      assert.ok(e.message.startsWith(`${o.file}: `), `names the file: ${e.message}`);
      assert.ok(e.path === o.file, `${o.file}: path ${e.path}`);
    }
    // Meaningful both ways: many mutants are refused, some still read (a flipped bit in an orientation field).
    assert.ok(read >= 0.05 * out.length && read <= 0.8 * out.length, `${read} of ${out.length} read`);
    assert.ok(maxRSS * 1024 < 1.5 * 2 ** 30, `peak memory ${Math.round(maxRSS / 1024)} MB`);
    assert.ok(seconds < 60, `${seconds.toFixed(1)} s`);
  },
);
