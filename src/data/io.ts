// Reading and writing medical images through ITK (itk-wasm, offline in Node):
// NIfTI (.nii, .nii.gz, .hdr/.img), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd).
// ITK applies NIfTI scl_slope / scl_inter on read, as nibabel does, and reports
// geometry in LPS. Bad files give one ComboSegError naming the file (code 'bad-file',
// 'not-found' or 'unsupported'; `path` the file); writes are atomic (temporary files in
// the same folder, then rename). ITK runs in its own thread (./itk.ts), which keeps its
// console noise from this one.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Image, ImageType, PixelTypes } from 'itk-wasm';
import { ComboSegError, type ErrorCode } from '../engine/errors.js';
import { ItkFailure, itkRead, itkWrite } from './itk.js';
import { checkNifti, datatypeName } from './nifti-header.js';
import { channelCount, voxelCount, type Vec3, type Volume, type VoxelArray } from './volume.js';

export const EXTENSIONS = ['.nii.gz', '.nii', '.hdr', '.img', '.nrrd', '.nhdr', '.mha', '.mhd'] as const;

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

async function sniff(path: string, ext: string): Promise<string | null> {
  if (ext === '.nii' || ext === '.nii.gz' || ext === '.hdr') return checkNifti(path);
  if (ext === '.img')
    return existsSync(path.replace(/\.img$/, '.hdr'))
      ? checkNifti(path.replace(/\.img$/, '.hdr'))
      : 'an .img file needs its .hdr beside it';
  const head = readFileSync(path).subarray(0, 64).toString('latin1');
  if ((ext === '.nrrd' || ext === '.nhdr') && !head.startsWith('NRRD000'))
    return 'no NRRD magic ("NRRD000x") at the start';
  if (
    (ext === '.mha' || ext === '.mhd') &&
    !/^(ObjectType|NDims|Comment|TransformType|AnatomicalOrientation)\s*=/m.test(head)
  ) {
    return 'no MetaImage header ("ObjectType = Image" / "NDims = 3")';
  }
  return null;
}

/** Throws the one error a bad file gives: its message names the file (as `name`), `path` is the file. */
function fail(path: string, why: string, code: ErrorCode = 'bad-file', name = path, cause?: unknown): never {
  throw new ComboSegError(`${name}: ${why}`, { code, path, cause });
}

export interface ReadOptions {
  /** How error messages name the file (an upload's own name, a case id); default its path. */
  name?: string;
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
  if (!existsSync(path)) fail(path, 'no such file', 'not-found', name);
  if (!statSync(path).isFile()) fail(path, 'not a file', 'bad-file', name);
  const ext = imageExtension(path);
  if (!ext) fail(path, `unsupported file type; comboseg reads ${EXTENSIONS.join(', ')}`, 'unsupported', name);
  if (statSync(path).size === 0) fail(path, 'empty file', 'bad-file', name);
  const problem = await sniff(path, ext);
  if (problem) fail(path, problem, 'bad-file', name);
  let img: Image;
  try {
    // ITK reads through its own file system, which does not follow symbolic links: give it the real file.
    img = await itkRead(realpathSync(ext === '.img' ? path.replace(/\.img$/, '.hdr') : path));
  } catch (e) {
    // The ITK thread died (out of memory?): not the file's fault as far as we know.
    if (!(e instanceof ItkFailure)) throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
    fail(path, describe(e), 'bad-file', name, e);
  }
  const channels = channelsOf(img, path, name);
  if (!img.data) fail(path, 'no voxel data', 'bad-file', name);
  const d = Math.min(3, img.imageType.dimension);
  const D = img.imageType.dimension;
  const size = [0, 1, 2].map((i) => (i < d ? img.size[i] : 1)) as Vec3;
  const spacing = [0, 1, 2].map((i) => (i < d ? img.spacing[i] : 1)) as Vec3;
  const origin = [0, 1, 2].map((i) => (i < d ? img.origin[i] : 0)) as Vec3;
  const direction = [0, 1, 2].flatMap((r) =>
    [0, 1, 2].map((c) => (r < d && c < d ? Number(img.direction[r * D + c]) : r === c ? 1 : 0)),
  );
  let data = voxelData(img);
  // A trailing singleton 5th+ axis.
  const n = channels * voxelCount({ size });
  if (data.length !== n) data = data.subarray(0, n);
  if (img.imageType.pixelType !== PixelTypes.Scalar && channels > 1) data = deinterleave(data, channels);
  const stored = img.metadata instanceof Map ? img.metadata.get('datatype') : undefined;
  const pixelType = stored !== undefined ? datatypeName(Number(stored)) : img.imageType.componentType;
  return { data, size, spacing, origin, direction, pixelType, ...(channels > 1 ? { channels } : {}) };
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
  if (!ext || ext === '.img') {
    const writable = EXTENSIONS.filter((e) => e !== '.img').join(', ');
    fail(path, `cannot write this file type; use one of ${writable}`, 'unsupported');
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
