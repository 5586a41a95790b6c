// What a header promises, checked against what the file holds before anything large is
// allocated or handed to ITK. Each format describes its data as a `StoredData` (NIfTI:
// ./nifti-header.ts; NRRD and MetaImage: ./text-headers.ts); the rules are here:
//
// - Sizes are products of header fields in doubles, which are exact to 2^53 and only compared
//   with limits: an overflow can make a size larger (refused), never wrap it to a small one.
// - Limits ('unsupported'): more than COMBOSEG_MAX_VOXELS elements (default 2^31, all channels
//   counted), or 2 GiB of voxel data or more: ITK runs as 32-bit WebAssembly and fails inside
//   with a bare exception from 2^31 bytes on (measured: 2047×1024×1024 uint8 reads, in 46 s and
//   12 GB of memory; 2048×1024×1030 does not).
// - Plausibility ('bad-file', before decompression): deflate (gzip, zlib) cannot expand data
//   more than 1032:1, so a header promising more than 1032 × compressed bytes + 64 KiB of
//   decoded data (header, extensions and voxels) is lying: the file is truncated or corrupt.
//   Likewise ASCII (at least 2 characters a value) and hex (2 characters a byte); raw data must
//   be in the file.
// - Integrity ('bad-file'): compressed data are then decoded once in Node, streamed and counted,
//   never held: zlib verifies gzip's CRC-32 and length trailer (zlib's Adler-32), and the
//   decoded length must be exactly what the header promises (NIfTI vox_offset + voxel data;
//   NRRD and MetaImage element counts). ITK never sees a short stream, so it never zero-fills one.
// bzip2 data (NRRD) ITK cannot decode at all; ASCII, hex and data split over several files
// are left to ITK past the limits above.
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip, createUnzip } from 'node:zlib';
import { ComboSegError, type ErrorCode } from '../engine/errors.js';

export type Encoding = 'raw' | 'gzip' | 'zlib' | 'ascii' | 'hex' | 'unchecked';

/** Where and how a file stores its voxels, as its header says. */
export interface StoredData {
  /** Elements along each axis as stated (x first; channels or components included). */
  dims: number[];
  /** The element type as the header names it (for messages). */
  type: string;
  /** Bytes a stored element takes. */
  elementBytes: number;
  /** The file holding the data (the header's own file for single-file formats). */
  dataFile: string;
  /** Where in `dataFile` the (encoded) data start. */
  start: number;
  /** Bytes of encoded data from `start` when the header says (MetaImage CompressedDataSize); else to the end. */
  length?: number;
  encoding: Encoding;
  /** Bytes before the voxels in the decoded data (NIfTI: vox_offset, i.e. the header itself in a .nii). */
  skip: number;
  /** The decoded data must end with the voxels (else they may be followed by more). */
  exact: boolean;
  /** The spacing the header states along each axis (null: none stated), checked for NaN, 0 and ±∞. */
  spacing: { field: string; values: (number | null)[] };
  /** Float voxels ITK would turn from NaN/±∞ to 0 without a word (NIfTI): counted while decoding. */
  floats?: { bytes: 4 | 8; littleEndian: boolean };
}

/** Why a file is refused, and the error code that says what kind of refusal it is. */
export interface Refusal {
  why: string;
  code: ErrorCode;
}

export const DEFAULT_MAX_VOXELS = 2 ** 31;
/** The most voxel data ITK's 32-bit WebAssembly reader reads (its sizes are signed 32-bit). */
export const MAX_DATA_BYTES = 2 ** 31 - 1;
/** Deflate's largest possible expansion (258-byte matches coded in 2 bits, ~1032:1). */
export const MAX_INFLATE_RATIO = 1032;
/** Added to the deflate bound: headers and tiny streams. */
export const INFLATE_SLACK = 64 * 1024;

export const isRefusal = (x: unknown): x is Refusal =>
  typeof x === 'object' && x !== null && 'why' in x && 'code' in x && !('dims' in x);
const badFile = (why: string): Refusal => ({ why, code: 'bad-file' });

/** The most elements a volume may have: COMBOSEG_MAX_VOXELS, else 2^31. */
export function maxVoxels(): number {
  const env = process.env.COMBOSEG_MAX_VOXELS;
  if (env === undefined || env.trim() === '') return DEFAULT_MAX_VOXELS;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 1) {
    const why = `COMBOSEG_MAX_VOXELS=${env}: expected a positive whole number of voxels`;
    throw new ComboSegError(why, { code: 'invalid-option', path: 'COMBOSEG_MAX_VOXELS' });
  }
  return n;
}

/** Elements and bytes of voxel data the header promises (checked doubles: never wrapped). */
export function promised(d: StoredData): { voxels: number; bytes: number } {
  const voxels = d.dims.reduce((a, b) => a * b, 1);
  return { voxels, bytes: voxels * d.elementBytes };
}

const describeData = (d: StoredData) => `${d.dims.join('×')} ${d.type}`;

/** The most bytes `encoded` bytes in this encoding can decode to. */
function mostDecoded(d: StoredData, encoded: number): number {
  switch (d.encoding) {
    case 'gzip':
    case 'zlib':
      return MAX_INFLATE_RATIO * encoded + INFLATE_SLACK;
    case 'ascii':
      return Math.ceil((encoded + 1) / 2) * d.elementBytes;
    case 'hex':
      return Math.floor(encoded / 2);
    default:
      return encoded;
  }
}

const ENCODED: Record<Encoding, string> = {
  raw: 'raw data',
  gzip: 'gzip data',
  zlib: 'zlib data',
  ascii: 'ASCII text',
  hex: 'hex text',
  unchecked: 'data',
};

const AXES = ['x', 'y', 'z', 't', 'c'];

/** The checks on a header's promise, in the order they apply; each gives a Refusal or null. */
const CHECKS = {
  dims(d: StoredData): Refusal | null {
    const bad = d.dims.findIndex((n) => !Number.isInteger(n) || n < 1);
    return bad < 0 ? null : badFile(`bad size ${d.dims[bad]} along axis ${bad + 1} (${d.dims.join('×')})`);
  },
  /** More than the encoded bytes can decode to (compressed, text). */
  plausible(d: StoredData, encoded: number): Refusal | null {
    const want = d.skip + promised(d).bytes;
    if (d.encoding === 'raw' || d.encoding === 'unchecked' || want <= mostDecoded(d, encoded)) return null;
    return badFile(
      `truncated or corrupt: the header promises ${want} bytes (${describeData(d)}), ` +
        `more than ${encoded} bytes of ${ENCODED[d.encoding]} can hold (at most ${mostDecoded(d, encoded)})`,
    );
  },
  /** Raw data the file is too short for. */
  raw(d: StoredData, encoded: number): Refusal | null {
    const { bytes } = promised(d);
    const have = encoded - d.skip;
    if (d.encoding !== 'raw' || have >= bytes) return null;
    const holds = Math.max(0, have);
    return badFile(`header promises ${bytes} bytes of voxel data (${describeData(d)}) but the file holds ${holds}`);
  },
  limits(d: StoredData): Refusal | null {
    const { voxels, bytes } = promised(d);
    const limit = maxVoxels();
    if (voxels > limit) {
      const why = `${voxels} voxels (${describeData(d)}), above the limit of ${limit} (COMBOSEG_MAX_VOXELS)`;
      return { why, code: 'unsupported' };
    }
    if (bytes <= MAX_DATA_BYTES) return null;
    const why = `${bytes} bytes of voxel data (${describeData(d)}): ITK's 32-bit reader reads less than 2 GiB`;
    return { why, code: 'unsupported' };
  },
  spacing(d: StoredData): Refusal | null {
    const { field, values } = d.spacing;
    const axis = values.findIndex((v) => v !== null && !(Number.isFinite(v) && v !== 0));
    if (axis < 0) return null;
    const where = `${AXES[axis] ?? `axis ${axis + 1}`} (${field})`;
    return badFile(`spacing ${values[axis]} along ${where}; it must be finite and not 0`);
  },
};

/** Bytes of encoded data the header's data file holds for it. */
const encodedBytes = (d: StoredData, fileSize: number) => Math.max(0, d.length ?? fileSize - d.start);

/**
 * Why the data a header promises must not be allocated: more than its compressed bytes can hold
 * (truncated or corrupt: 'bad-file'), or above the limits ('unsupported'); null when they may.
 * `fileSize` is the size of `dataFile`. Needs the header only: the server applies it to uploads
 * before queuing a job. Raw data that are cut short cost nothing to find out: left to the reader.
 */
export function allocationProblem(d: StoredData, fileSize: number): Refusal | null {
  const encoded = encodedBytes(d, fileSize);
  return CHECKS.dims(d) ?? CHECKS.plausible(d, encoded) ?? CHECKS.limits(d);
}

/** Everything a header says that can be checked before decoding: the file's own faults first, then the limits. */
export function storedDataProblem(d: StoredData, fileSize: number): Refusal | null {
  const encoded = encodedBytes(d, fileSize);
  return (
    CHECKS.dims(d) ?? CHECKS.plausible(d, encoded) ?? CHECKS.raw(d, encoded) ?? CHECKS.limits(d) ?? CHECKS.spacing(d)
  );
}

/** Counts NaN and ±∞ in a run of stored IEEE floats as the bytes go by (exponent bits all set). */
class NonFiniteCounter {
  count = 0;
  /** Element index of the first one (-1: none). */
  first = -1;
  private carry = Buffer.alloc(0);

  constructor(
    private readonly f: { bytes: 4 | 8; littleEndian: boolean },
    private readonly from: number,
    private readonly to: number,
  ) {}

  /** `chunk` holds the decoded bytes [at, at + chunk.length), in order. */
  feed(chunk: Buffer, at: number): void {
    const lo = Math.max(at, this.from),
      hi = Math.min(at + chunk.length, this.to);
    if (hi <= lo) return;
    const pos = lo - this.carry.length;
    const part = this.carry.length ? Buffer.concat([this.carry, chunk.subarray(lo - at, hi - at)]) : chunk;
    const offset = this.carry.length ? 0 : lo - at;
    const end = this.carry.length ? part.length : hi - at;
    const n = this.f.bytes;
    const whole = offset + (end - offset - ((end - offset) % n));
    const top = this.f.littleEndian ? n - 1 : 0,
      next = this.f.littleEndian ? n - 2 : 1,
      mask = n === 4 ? 0x80 : 0xf0;
    for (let i = offset; i < whole; i += n) {
      if ((part[i + top] & 0x7f) === 0x7f && (part[i + next] & mask) === mask) {
        if (this.first < 0) this.first = (pos + i - offset - this.from) / n;
        this.count++;
      }
    }
    this.carry = Buffer.from(part.subarray(whole, end));
  }
}

/** What decoding the data found: the NaN/±∞ floats among them (NIfTI float data only). */
export interface Verified {
  nonFinite: number;
  firstNonFinite: number;
}

/** zlib's complaint, in words that say truncated or corrupt. */
function zlibWhy(e: Error & { code?: string }, d: StoredData): string {
  const what = ENCODED[d.encoding];
  if (/unexpected end/i.test(e.message)) return `truncated: the ${what} end before the end of the compressed stream`;
  if (/incorrect data check/i.test(e.message))
    return `corrupt: the ${what} fail their checksum (${d.encoding === 'gzip' ? 'CRC-32' : 'Adler-32'})`;
  if (/incorrect length check/i.test(e.message))
    return `corrupt: the gzip length trailer does not match the decoded data`;
  return `corrupt: the ${what} do not decode (zlib: ${e.message})`;
}

const isZlibError = (e: unknown): e is Error & { code: string } => {
  const code = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
};

/** The decoded bytes of the data, as a stream (null: nothing to decode or count). */
function decodedStream(d: StoredData, want: number, counting: boolean): Readable | null {
  const end = d.length !== undefined ? d.start + d.length - 1 : undefined;
  if (d.encoding === 'raw') {
    if (!counting || want === 0) return null;
    return createReadStream(d.dataFile, { start: d.start, end: d.start + want - 1, highWaterMark: 1 << 20 });
  }
  if (d.encoding !== 'gzip' && d.encoding !== 'zlib') return null;
  const source = createReadStream(d.dataFile, { start: d.start, end, highWaterMark: 1 << 20 });
  // createUnzip takes zlib or gzip, as MetaIO does; both verify their trailers.
  const decoder = d.encoding === 'gzip' ? createGunzip({ chunkSize: 1 << 20 }) : createUnzip({ chunkSize: 1 << 20 });
  return pipeline(source, decoder, () => undefined);
}

/**
 * Decodes the data once, streamed and counted, never held: a Refusal when they are truncated,
 * corrupt (checksum, deflate) or longer than promised. Raw data are only read when there are
 * floats to count. With `tee`, the decoded bytes are also written to that file.
 */
export async function verifyStoredData(d: StoredData, o: { tee?: string } = {}): Promise<Verified | Refusal> {
  const { bytes } = promised(d);
  const want = d.skip + bytes;
  const counter = d.floats ? new NonFiniteCounter(d.floats, d.skip, want) : null;
  const stream = decodedStream(d, want, counter !== null || o.tee !== undefined);
  if (!stream) return { nonFinite: 0, firstNonFinite: -1 };
  const out = o.tee !== undefined ? createWriteStream(o.tee) : null;
  // Rejects on a write error (disk full), which is not the file's fault: thrown as is, after the loop.
  const written = out ? finished(out) : null;
  written?.catch(() => undefined); // handled here if the loop returns first
  let got = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      counter?.feed(chunk, got);
      got += chunk.length;
      if (d.exact && got > want)
        return badFile(`corrupt: the data decode to more than the ${want} bytes the header promises`);
      if (out && !out.write(chunk)) await once(out, 'drain');
    }
  } catch (e) {
    if (isZlibError(e)) return badFile(zlibWhy(e, d));
    throw e;
  } finally {
    stream.destroy();
    out?.end();
  }
  await written;
  if (got < want) {
    const why = `truncated: the data decode to ${got} bytes, the header promises ${want} (${describeData(d)})`;
    return badFile(why);
  }
  return { nonFinite: counter?.count ?? 0, firstNonFinite: counter?.first ?? -1 };
}
