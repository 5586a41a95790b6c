// Reading and writing medical images through ITK (itk-wasm, offline in Node):
// NIfTI (.nii, .nii.gz, .hdr/.img, .hdr.gz/.img.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd).
// ITK applies NIfTI scl_slope / scl_inter on read, as nibabel does, and reports
// geometry in LPS. Bad files give one ComboSegError naming the file (code 'bad-file',
// 'not-found' or 'unsupported'; `path` the file); writes are atomic (temporary files in
// the same folder, then rename). ITK runs in its own thread (./itk.ts), which keeps its
// console noise from this one.
//
// Nothing reaches ITK unchecked (./integrity.ts has the rules): the header's sizes against the
// limits and against what the file can hold, before anything is decoded; then compressed data
// decoded once in Node, their checksums and length verified. ITK would zero-fill a short stream
// and allocate whatever a header claims. After ITK: spacing must be finite and not 0 (a negative
// one is folded into the direction: its column flipped, as ITK does, so every voxel keeps its
// place), and NaN/±∞ voxels are an error unless `nonFinite: 'zero'` replaces them.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Image, ImageType, PixelTypes } from 'itk-wasm';
import { ComboSegError, type ErrorCode } from '../engine/errors.js';
import { ItkFailure, itkRead, itkWrite } from './itk.js';
import { readDicomFolder } from './dicom.js';
import { datatypeName, inspectNifti } from './nifti-header.js';
import { isRefusal, storedDataProblem, verifyStoredData, type Refusal, type StoredData } from './integrity.js';
import { metaStoredData, nrrdStoredData } from './text-headers.js';
import { channelCount, voxelCount, type Vec3, type Volume, type VoxelArray } from './volume.js';

export const EXTENSIONS = [
  '.nii.gz',
  '.nii',
  '.hdr.gz',
  '.img.gz',
  '.hdr',
  '.img',
  '.nrrd',
  '.nhdr',
  '.mha',
  '.mhd',
] as const;
/** What writeVolume writes (a pair is written by naming its .hdr; compressed pairs are read only). */
const WRITABLE = ['.nii.gz', '.nii', '.hdr', '.nrrd', '.nhdr', '.mha', '.mhd'];
const NIFTI = new Set(['.nii', '.nii.gz', '.hdr', '.hdr.gz', '.img', '.img.gz']);

/** The image extension of a path ('.nii.gz', '.nrrd', ...), or null. */
export function imageExtension(path: string): string | null {
  const lower = path.toLowerCase();
  return EXTENSIONS.find((e) => lower.endsWith(e)) ?? null;
}

function describe(e: unknown): string {
  let why: string;
  if (e instanceof ItkFailure && e.exception) {
    why = 'ITK raised an exception while decoding (corrupt or truncated data?)';
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    const unread = 'ITK could not read it (unrecognised, corrupt or truncated)';
    why = msg.replace(/^Could not read: .*$/m, unread).split('\n')[0];
  }
  // ITK's own account, when it gave one ("MetaImage: M_ReadElementsData: data not read completely").
  return e instanceof ItkFailure && e.output.length ? `${why}: ${e.output.slice(0, 2).join(' ')}` : why;
}

/** The header file of a NIfTI pair's image file (.img → .hdr, .img.gz → .hdr.gz); else the path. */
const headerOf = (path: string): string =>
  path.replace(/\.img(\.gz)?$/i, (_, gz: string | undefined) => `.hdr${gz ?? ''}`);

/** The first bytes of a file: 1 MiB, more than any header comboseg reads. */
function fileHead(path: string, n = 1 << 20): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(Math.min(n, statSync(path).size));
    return b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Where a file's voxels are, as its header says; a Refusal when the header is bad. */
async function inspect(path: string, ext: string): Promise<StoredData | Refusal> {
  const bad = (why: string): Refusal => ({ why, code: 'bad-file' });
  if (NIFTI.has(ext)) {
    const hdr = headerOf(path);
    if (hdr !== path && !existsSync(hdr)) return bad(`an ${ext} file needs its ${ext.replace('img', 'hdr')} beside it`);
    return inspectNifti(hdr);
  }
  const head = fileHead(path);
  if (ext === '.nrrd' || ext === '.nhdr') return nrrdStoredData(head, path);
  if (!/^(ObjectType|NDims|Comment|TransformType|AnatomicalOrientation)\s*=/m.test(head.toString('latin1', 0, 64)))
    return bad('no MetaImage header ("ObjectType = Image" / "NDims = 3")');
  return metaStoredData(head, path);
}

/** Throws the one error a bad file gives: its message names the file (as `name`), `path` is the file. */
function fail(path: string, why: string, code: ErrorCode = 'bad-file', name = path, cause?: unknown): never {
  throw new ComboSegError(`${name}: ${why}`, { code, path, cause });
}

export interface ReadOptions {
  /** How error messages name the file (an upload's own name, a case id); default its path. */
  name?: string;
  /**
   * NaN or ±∞ voxel values: 'error' (the default) refuses the file, saying how many;
   * 'zero' replaces them with 0.
   */
  nonFinite?: 'error' | 'zero';
  /** A DICOM folder holding several series: the SeriesInstanceUID of the one to read. */
  series?: string;
}

const nonFiniteWhy = (count: number, first: number) =>
  `${count} voxel value${count === 1 ? ' is' : 's are'} NaN or ±Infinity (the first at voxel ${first}); ` +
  "read it with the option nonFinite: 'zero' to replace them with 0";

/**
 * Where ITK reads a .hdr.gz pair: a decompressed copy in the private folder `dir` (ITK reads
 * files, and has no reader for compressed pairs); the header is decoded here, the data by
 * `verifyStoredData` on its way. A Refusal when the header's gzip data do not decode.
 */
function decompressedPair(hdr: string, d: StoredData, dir: string): { header: string; data: string } | Refusal {
  const stem = join(dir, basename(hdr).replace(/\.hdr\.gz$/i, ''));
  // A single-file header under a pair's name: its whole stream is the .nii.
  if (d.dataFile === hdr) return { header: `${stem}.nii`, data: `${stem}.nii` };
  try {
    writeFileSync(`${stem}.hdr`, gunzipSync(readFileSync(hdr), { maxOutputLength: 1 << 20 }));
  } catch (e) {
    return { why: `truncated or corrupt: its gzip header does not decode (${(e as Error).message})`, code: 'bad-file' };
  }
  return { header: `${stem}.hdr`, data: `${stem}.img` };
}

/**
 * Checks a file before ITK sees it: its header, the sizes it promises (limits, plausibility), then
 * its data decoded once and verified. Returns the file ITK reads (for a .hdr.gz pair a
 * decompressed copy in the folder `scratch()` makes, which the caller removes).
 */
async function checkFile(path: string, ext: string, name: string, o: ReadOptions, scratch: () => string) {
  const refuse: (r: Refusal) => never = (r) => fail(path, r.why, r.code, name);
  const d = await inspect(path, ext);
  if (isRefusal(d)) refuse(d);
  if (!existsSync(d.dataFile)) fail(path, `its data file ${d.dataFile} is missing`, 'bad-file', name);
  const problem = storedDataProblem(d, statSync(d.dataFile).size);
  if (problem) refuse(problem);
  const hdr = headerOf(path);
  const pair = /\.hdr\.gz$/i.test(hdr) ? decompressedPair(hdr, d, scratch()) : null;
  if (isRefusal(pair)) refuse(pair);
  const verified = await verifyStoredData(d, pair ? { tee: pair.data } : {});
  if (isRefusal(verified)) refuse(verified);
  if (verified.nonFinite && (o.nonFinite ?? 'error') === 'error')
    fail(path, nonFiniteWhy(verified.nonFinite, verified.firstNonFinite), 'bad-file', name);
  return pair ? pair.header : hdr;
}

/** The geometry ITK reports, checked: spacing finite and not 0, a negative one folded into the direction. */
function checkedGeometry(
  img: Image,
  fail: (why: string) => never,
): Pick<Volume, 'size' | 'spacing' | 'origin' | 'direction'> {
  const d = Math.min(3, img.imageType.dimension);
  const D = img.imageType.dimension;
  const size = [0, 1, 2].map((i) => (i < d ? img.size[i] : 1)) as Vec3;
  const spacing = [0, 1, 2].map((i) => (i < d ? img.spacing[i] : 1)) as Vec3;
  const origin = [0, 1, 2].map((i) => (i < d ? img.origin[i] : 0)) as Vec3;
  const direction = [0, 1, 2].flatMap((r) =>
    [0, 1, 2].map((c) => (r < d && c < d ? Number(img.direction[r * D + c]) : r === c ? 1 : 0)),
  );
  for (let i = 0; i < 3; i++) {
    const s = spacing[i];
    if (!Number.isFinite(s) || s === 0) fail(`spacing ${s} along ${'xyz'[i]}; it must be finite and not 0`);
    // Negative spacing: the axis runs the other way. Flip it into the direction's column (as ITK
    // does), so that origin + direction · diag(spacing) · index, every voxel's place, is unchanged.
    if (s < 0) {
      spacing[i] = -s;
      for (let r = 0; r < 3; r++) direction[3 * r + i] = 0 - direction[3 * r + i]; // never -0
    }
  }
  if (![...origin, ...direction].every(Number.isFinite))
    fail(`origin [${origin}] or direction [${direction}] is not finite (corrupt orientation fields)`);
  return { size, spacing, origin, direction };
}

/** NaN and ±∞ among float voxels: refused, or replaced with 0 (`nonFinite: 'zero'`). */
function checkValues(data: VoxelArray, nonFinite: 'error' | 'zero', fail: (why: string) => never): void {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  let count = 0,
    first = -1;
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    if (first < 0) first = i;
    count++;
    if (nonFinite === 'zero') data[i] = 0;
  }
  if (count && nonFinite === 'error') fail(nonFiniteWhy(count, first));
}

/** The voxel data of an image, bigint types as float64. */
function voxelData(img: Image): VoxelArray {
  const raw = img.data as unknown;
  return raw instanceof BigInt64Array || raw instanceof BigUint64Array
    ? Float64Array.from(raw, Number)
    : (raw as VoxelArray);
}

/** Vector pixels (x, y, z, then c fastest) to channel-major [C, z, y, x]. */
function deinterleave(data: VoxelArray, channels: number): VoxelArray {
  const n = data.length / channels;
  const out = new (data.constructor as new (n: number) => VoxelArray)(data.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[c * n + i] = data[i * channels + c];
  return out;
}

/** How many channels an image holds (4-D: its last axis; vector pixels: their components); throws if unsupported. */
function channelsOf(img: Image, path: string, name: string): number {
  const t = img.imageType;
  const vector =
    (t.pixelType === PixelTypes.Vector || t.pixelType === PixelTypes.VariableLengthVector) && t.dimension <= 3;
  if ((t.pixelType !== PixelTypes.Scalar && !vector) || (!vector && t.components !== 1)) {
    const why = `unsupported pixel type ${t.pixelType} with ${t.components} components; comboseg reads scalar images`;
    fail(path, why, 'unsupported', name);
  }
  if (t.dimension > 4 && img.size.slice(4).some((s) => s > 1)) {
    const why = `${t.dimension}-D image of size [${img.size}]; comboseg reads 3-D volumes (4-D: channels last)`;
    fail(path, why, 'unsupported', name);
  }
  if (t.dimension < 2) fail(path, `${t.dimension}-D image; comboseg reads 3-D volumes`, 'unsupported', name);
  return vector ? t.components : t.dimension >= 4 ? img.size[3] : 1;
}

/**
 * Reads a 3-D scalar image. Values are scaled (NIfTI slope/intercept) as stored;
 * geometry is LPS. 2-D images become one-slice volumes. A 4-D image (or one with vector
 * pixels) is read as C channels on one grid, channel-major (see ./volume.ts), with `channels` set.
 */
export async function readVolume(path: string, options: ReadOptions = {}): Promise<Volume> {
  const name = options.name ?? path;
  if (options.nonFinite !== undefined && !['error', 'zero'].includes(options.nonFinite)) {
    const why = `nonFinite: '${options.nonFinite}'; expected 'error' or 'zero'`;
    throw new ComboSegError(why, { code: 'invalid-option', path: 'nonFinite' });
  }
  if (!existsSync(path)) fail(path, 'no such file', 'not-found', name);
  // A folder is a DICOM series (src/data/dicom.ts): its slices as one volume.
  if (statSync(path).isDirectory()) {
    const { image, series } = await readDicomFolder(path, options.series, name);
    const volume = toVolume(image, path, name, options);
    return series.values === 'as-stored' ? volume : { ...volume, units: 'SUV' };
  }
  if (!statSync(path).isFile()) fail(path, 'not a file', 'bad-file', name);
  const ext = imageExtension(path);
  if (!ext) fail(path, `unsupported file type; comboseg reads ${EXTENSIONS.join(', ')}`, 'unsupported', name);
  if (statSync(path).size === 0) fail(path, 'empty file', 'bad-file', name);
  const scratch: string[] = []; // a private folder, made when needed
  const folder = () => (scratch[0] ??= mkdtempSync(join(tmpdir(), 'comboseg-read-')));
  let img: Image;
  try {
    const target = await checkFile(path, ext, name, options, folder);
    // ITK reads through its own file system, which does not follow symbolic links: give it the real file.
    img = await itkRead(realpathSync(target));
  } catch (e) {
    if (e instanceof ComboSegError) throw e;
    // The ITK thread died (out of memory?): not the file's fault as far as we know.
    if (!(e instanceof ItkFailure)) throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
    fail(path, describe(e), 'bad-file', name, e);
  } finally {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }
  return toVolume(img, path, name, options);
}

/** ITK's image as a Volume: checked (spacing, values), negative spacing folded into the direction. */
function toVolume(img: Image, path: string, name: string, options: ReadOptions): Volume {
  const bad: (why: string) => never = (why) => fail(path, why, 'bad-file', name);
  const channels = channelsOf(img, path, name);
  if (!img.data) bad('no voxel data');
  const geometry = checkedGeometry(img, bad);
  let data = voxelData(img);
  const n = channels * voxelCount(geometry);
  if (data.length < n) bad(`ITK returned ${data.length} values for ${n} voxels`);
  if (data.length !== n) data = data.subarray(0, n); // a trailing singleton 5th+ axis
  if (img.imageType.pixelType !== PixelTypes.Scalar && channels > 1) data = deinterleave(data, channels);
  checkValues(data, options.nonFinite ?? 'error', bad);
  const stored = img.metadata instanceof Map ? img.metadata.get('datatype') : undefined;
  const pixelType = stored !== undefined ? datatypeName(Number(stored)) : img.imageType.componentType;
  return { data, ...geometry, pixelType, ...(channels > 1 ? { channels } : {}) };
}

/**
 * Reads a label map: values rounded to the nearest integer (never truncated: a
 * mask stored as scaled int32 or float comes out right), as the smallest
 * unsigned array that holds them. Throws on negative or non-finite labels.
 */
export async function readLabels(path: string, options: ReadOptions = {}): Promise<Volume> {
  const v = await readVolume(path, options);
  if (channelCount(v) > 1) {
    const why = `${channelCount(v)} channels (a 4-D image); a label map is one 3-D volume`;
    fail(path, why, 'invalid-input', options.name ?? path);
  }
  try {
    return { ...v, data: toLabelArray(v.data, options.name ?? path) };
  } catch (e) {
    throw e instanceof ComboSegError ? e.rewrap(e.message, { path }) : e; // the file, however the message names it
  }
}

/** `where` names the data in the error (a file, a case) and is the error's `path`. */
export function toLabelArray(data: VoxelArray, where: string): Uint8Array | Uint16Array | Uint32Array {
  // Two passes over the source (check and size, then write) instead of a rounded copy of the volume.
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const r = Math.round(data[i]);
    if (!(r >= 0)) {
      const why = `label map holds ${data[i]} at voxel ${i}; labels must be non-negative integers`;
      throw new ComboSegError(`${where}: ${why}`, { code: 'invalid-input', path: where });
    }
    if (r > max) max = r;
  }
  const out =
    max < 256 ? new Uint8Array(data.length) : max < 65536 ? new Uint16Array(data.length) : new Uint32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(data[i]);
  return out;
}

const COMPONENT: [new (...a: never[]) => VoxelArray, string][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [Int16Array, 'int16'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Uint16Array, 'uint16'],
  [Uint32Array, 'uint32'],
];

function componentTypeOf(data: VoxelArray): string {
  for (const [ctor, name] of COMPONENT) if (data instanceof ctor) return name;
  throw new ComboSegError(`cannot write voxel data of type ${data.constructor.name}`, { code: 'invalid-input' });
}

/**
 * Writes a volume atomically, with its geometry (so a prediction written with a
 * scan's geometry opens aligned on it). The format follows the extension;
 * .nii.gz and .nrrd are compressed. A volume with several channels is written as a 4-D
 * image, the channels on its last axis (what `readVolume` reads back as channels).
 */
export async function writeVolume(path: string, vol: Volume): Promise<void> {
  const ext = imageExtension(path);
  if (!ext || !WRITABLE.includes(ext)) {
    fail(path, `cannot write this file type; use one of ${WRITABLE.join(', ')}`, 'unsupported');
  }
  const C = channelCount(vol),
    needs = C * voxelCount(vol);
  if (vol.data.length !== needs) {
    const of = C > 1 ? ` × ${C} channels` : '';
    const why = `volume data has ${vol.data.length} voxels, size [${vol.size}]${of} needs ${needs}`;
    fail(path, why, 'invalid-input');
  }
  if (!existsSync(dirname(path) || '.')) fail(path, `folder ${dirname(path)} does not exist`, 'not-found');
  // Several channels: a 4-D image, the channels on its last axis (the buffer is the same).
  const D = C > 1 ? 4 : 3;
  const img = new Image(new ImageType(D, componentTypeOf(vol.data) as never, PixelTypes.Scalar, 1));
  img.size = C > 1 ? [...vol.size, C] : [...vol.size];
  img.spacing = C > 1 ? [...vol.spacing, 1] : [...vol.spacing];
  img.origin = C > 1 ? [...vol.origin, 0] : [...vol.origin];
  const dir = vol.direction;
  img.direction = Float64Array.from(
    C > 1 ? [...dir.slice(0, 3), 0, ...dir.slice(3, 6), 0, ...dir.slice(6, 9), 0, 0, 0, 0, 1] : dir,
  );
  // Posting to the ITK worker and itk-wasm both copy the whole underlying buffer, not the view:
  // a view into a larger buffer is copied out first.
  const whole = vol.data.byteOffset === 0 && vol.data.byteLength === vol.data.buffer.byteLength;
  img.data = whole ? vol.data : vol.data.slice();
  // ITK writes into a private folder beside the target, under the final name (a .mhd
  // or .hdr names its data file); the files are then renamed into place.
  const tmpDir = join(dirname(path), `.comboseg-write-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(tmpDir);
  try {
    await itkWrite(img, join(tmpDir, basename(path)), ext === '.nii.gz' || ext === '.nrrd' || ext === '.mha');
    const written = readdirSync(tmpDir);
    // The data file of a pair first, so the header never points at a missing file.
    written.sort((a, b) => Number(a === basename(path)) - Number(b === basename(path)));
    for (const f of written) renameSync(join(tmpDir, f), join(dirname(path), f));
  } catch (e) {
    if (e instanceof ComboSegError) throw e;
    fail(path, `could not write (${describe(e)})`, 'failed', path, e);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
