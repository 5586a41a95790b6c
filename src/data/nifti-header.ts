// Just enough of the NIfTI / Analyze header to reject bad files with a clear
// message before ITK sees them (ITK's own failures arrive from inside the wasm
// as bare numbers), and to say where the voxels are and how many bytes they take
// (./integrity.ts checks that against the file). Reading itself is ITK's.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { isRefusal, storedDataProblem, type Refusal, type StoredData } from './integrity.js';

export interface NiftiSniff {
  version: 1 | 2 | 0; // 0: Analyze 7.5
  littleEndian: boolean;
  dims: number[];
  /** pixdim[0..7]: pixdim[1..3] are the spacing along x, y, z. */
  pixdim: number[];
  datatype: number;
  bitpix: number;
  voxOffset: number;
  intentCode: number;
  singleFile: boolean;
}

const DATATYPES: Record<number, string> = {
  2: 'uint8',
  4: 'int16',
  8: 'int32',
  16: 'float32',
  64: 'float64',
  256: 'int8',
  512: 'uint16',
  768: 'uint32',
  1024: 'int64',
  1280: 'uint64',
  32: 'complex64',
  128: 'RGB24',
  1792: 'complex128',
  2304: 'RGBA32',
  1536: 'float128',
};
export const SCALAR_DATATYPES = new Set([2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280]);
/** Bytes of a scalar element by datatype code: what the NIfTI library reads (bitpix it ignores). */
const DATATYPE_BYTES: Record<number, number> = {
  2: 1,
  4: 2,
  8: 4,
  16: 4,
  64: 8,
  256: 1,
  512: 2,
  768: 4,
  1024: 8,
  1280: 8,
};
export const datatypeName = (code: number): string => DATATYPES[code] ?? `code ${code}`;

/** The first `n` bytes of a file, through gunzip for .gz. Null when the file is too short. */
export async function headBytes(path: string, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const source = createReadStream(path);
  const stream = path.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) break;
    }
  } finally {
    source.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** Parses a NIfTI-1/2 or Analyze header; a string says what is wrong instead. */
export function parseHeader(buf: Buffer): NiftiSniff | string {
  if (buf.length < 348) return `only ${buf.length} bytes, shorter than a NIfTI header (348)`;
  for (const le of [true, false]) {
    const sizeof = le ? buf.readInt32LE(0) : buf.readInt32BE(0);
    const i16 = (o: number) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
    const i64 = (o: number) => Number(le ? buf.readBigInt64LE(o) : buf.readBigInt64BE(o));
    const f32 = (o: number) => (le ? buf.readFloatLE(o) : buf.readFloatBE(o));
    const f64 = (o: number) => (le ? buf.readDoubleLE(o) : buf.readDoubleBE(o));
    if (sizeof === 348) {
      const magic = buf.toString('latin1', 344, 348);
      const version = magic === 'n+1\0' || magic === 'ni1\0' ? 1 : 0;
      const dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
      const voxOffset = f32(108);
      return {
        version,
        littleEndian: le,
        dims,
        pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
        datatype: i16(70),
        bitpix: i16(72),
        voxOffset,
        intentCode: i16(68),
        singleFile: magic === 'n+1\0',
      };
    }
    if (sizeof === 540) {
      if (buf.length < 540) return 'truncated NIfTI-2 header';
      const magic = buf.toString('latin1', 4, 8);
      const dims = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
      return {
        version: 2,
        littleEndian: le,
        dims,
        pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
        datatype: i16(12),
        bitpix: i16(14),
        voxOffset: i64(168),
        intentCode: le ? buf.readInt32LE(504) : buf.readInt32BE(504),
        singleFile: magic.startsWith('n+2'),
      };
    }
  }
  return 'no NIfTI/Analyze header (sizeof_hdr is neither 348 nor 540, in either byte order)';
}

/** What is wrong with a header in itself (CIFTI, NIfTI-2, too many axes, not scalar), or null. */
function headerProblem(h: NiftiSniff): string | null {
  if (h.intentCode >= 3000 && h.intentCode < 3100)
    return `CIFTI file (intent code ${h.intentCode}): a surface/connectivity matrix, not a volume`;
  if (h.version === 2)
    return 'NIfTI-2 files are not supported by the ITK reader; convert to NIfTI-1 (e.g. nibabel, or `fslchfiletype`)';
  const nd = h.dims[0];
  if (nd < 1 || nd > 7) return `bad dim[0] = ${nd}`;
  // A 4th axis holds channels (MSD's multi-modal images); nothing beyond it.
  const extra = h.dims.slice(5, nd + 1).filter((d) => d > 1);
  if (nd > 4 && extra.length)
    return (
      `${nd}-D image (dims ${h.dims.slice(1, nd + 1).join('×')}); ` +
      'comboseg reads 3-D volumes, or 4-D ones with the channels on the last axis'
    );
  if (!SCALAR_DATATYPES.has(h.datatype))
    return `unsupported pixel type ${datatypeName(h.datatype)}; comboseg reads scalar images`;
  return null;
}

/**
 * Where a (valid) header's voxels are: after vox_offset bytes of the .nii's stream (the NIfTI
 * library reads from byte 352 at the earliest), or of the .img of a pair; dim[1..dim[0]] elements
 * of the datatype's size (channels counted); pixdim[1..3] the spacing.
 */
export function niftiStoredData(h: NiftiSniff, dataFile: string): StoredData | Refusal {
  const nd = h.dims[0];
  if (!(Number.isFinite(h.voxOffset) && h.voxOffset >= 0))
    return { why: `bad vox_offset ${h.voxOffset}`, code: 'bad-file' };
  const offset = Math.floor(h.voxOffset);
  const float = h.datatype === 16 || h.datatype === 64;
  return {
    dims: h.dims.slice(1, nd + 1),
    type: datatypeName(h.datatype),
    elementBytes: DATATYPE_BYTES[h.datatype] ?? 0,
    dataFile,
    start: 0,
    encoding: dataFile.endsWith('.gz') ? 'gzip' : 'raw',
    skip: h.singleFile ? Math.max(352, offset) : offset,
    exact: true,
    spacing: { field: 'pixdim', values: h.pixdim.slice(1, Math.min(nd, 3) + 1) },
    ...(float ? { floats: { bytes: h.datatype === 16 ? 4 : 8, littleEndian: h.littleEndian } } : {}),
  };
}

/**
 * A NIfTI/Analyze file's header (`path`: the .nii, .nii.gz, .hdr or .hdr.gz) and where its
 * voxels are; a Refusal saying what is wrong instead (its data file is not looked at).
 */
export async function inspectNifti(path: string): Promise<StoredData | Refusal> {
  const bad = (why: string): Refusal => ({ why, code: 'bad-file' });
  let head: Buffer;
  try {
    head = await headBytes(path, 540);
  } catch (e) {
    return bad(`not a valid gzip stream: truncated or corrupt (${(e as Error).message})`);
  }
  const h = parseHeader(head);
  if (typeof h === 'string') return bad(h);
  const problem = headerProblem(h);
  if (problem) return bad(problem);
  const dataFile = h.singleFile ? path : imgPathFor(path);
  if (!h.singleFile && !existsSync(dataFile)) return bad(`header-only file: its image file ${dataFile} is missing`);
  return niftiStoredData(h, dataFile);
}

/**
 * Checks a NIfTI/Analyze file without decoding its voxels (header, sizes against the limits,
 * against what the file can hold, spacing); returns a message saying what is wrong, or null.
 */
export async function checkNifti(path: string): Promise<string | null> {
  const d = await inspectNifti(path);
  if (isRefusal(d)) return d.why;
  return storedDataProblem(d, statSync(d.dataFile).size)?.why ?? null;
}

/** The image file of a .hdr/.img pair. */
export function imgPathFor(hdr: string): string {
  return hdr.replace(/\.hdr(\.gz)?$/, (_, gz: string | undefined) => `.img${gz ?? ''}`);
}
