// Just enough of the NIfTI / Analyze header to reject bad files with a clear
// message before ITK sees them (ITK's own failures arrive from inside the wasm
// as bare numbers). Reading itself is ITK's.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

export interface NiftiSniff {
  version: 1 | 2 | 0; // 0: Analyze 7.5
  littleEndian: boolean;
  dims: number[];
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
    if (sizeof === 348) {
      const magic = buf.toString('latin1', 344, 348);
      const version = magic === 'n+1\0' || magic === 'ni1\0' ? 1 : 0;
      const dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
      const voxOffset = le ? buf.readFloatLE(108) : buf.readFloatBE(108);
      return {
        version,
        littleEndian: le,
        dims,
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

/** Checks a NIfTI/Analyze file; returns a message saying what is wrong, or null. */
export async function checkNifti(path: string): Promise<string | null> {
  let head: Buffer;
  try {
    head = await headBytes(path, 540);
  } catch (e) {
    return `not a valid gzip stream (${(e as Error).message})`;
  }
  const h = parseHeader(head);
  if (typeof h === 'string') return h;
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
  const voxels = h.dims.slice(1, Math.min(nd, 3) + 1).reduce((a, b) => a * Math.max(1, b), 1);
  const bytes = voxels * (h.bitpix / 8);
  const dataFile = h.singleFile ? path : imgPathFor(path);
  if (!h.singleFile && !existsSync(dataFile)) return `header-only file: its image file ${dataFile} is missing`;
  if (!dataFile.endsWith('.gz')) {
    const offset = h.singleFile ? Math.max(352, h.voxOffset) : 0;
    const have = statSync(dataFile).size - offset;
    if (have < bytes)
      return (
        `header promises ${bytes} bytes of voxel data (${h.dims.slice(1, 4).join('×')} ${datatypeName(h.datatype)})` +
        ` but the file holds ${Math.max(0, have)}`
      );
  }
  return null;
}

/** The image file of a .hdr/.img pair. */
export function imgPathFor(hdr: string): string {
  return hdr.replace(/\.hdr(\.gz)?$/, (_, gz: string | undefined) => `.img${gz ?? ''}`);
}
