// safetensors: 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data.
// Read and written here in TypeScript; `__metadata__` holds string pairs, and
// comboseg keeps its own JSON block (network, options, loss, epoch...) under
// the key "comboseg".
import { readFileSync } from 'node:fs';
import { tensor, type Tensor } from './tensor.js';
import { ComboSegError } from './errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { DType, TypedArray } from './dtype.js';

// bfloat16 is a compute type only: checkpoints hold the float32 master weights.
type StoredDType = Exclude<DType, 'bfloat16'>;
const CODES: Record<StoredDType, string> = {
  float32: 'F32',
  float64: 'F64',
  int32: 'I32',
  int64: 'I64',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
// Code → dtype; a code that is not here (the file's own dtype string) is undefined.
const DTYPES = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k])) as Partial<
  Record<string, StoredDType>
>;
const BYTES: Record<StoredDType, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};
const ARRAYS: Record<StoredDType, new (b: ArrayBuffer) => TypedArray> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

export type { JsonValue } from '../util/json.js';
import type { JsonValue } from '../util/json.js';

const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export interface Safetensors {
  tensors: Record<string, Tensor>;
  /** The comboseg JSON block, or {} if the file has none. */
  metadata: { [k: string]: JsonValue };
  /** All `__metadata__` string pairs as stored. */
  rawMetadata: Record<string, string>;
}

/** Encodes tensors (and a JSON metadata block) in safetensors layout. */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata: { [k: string]: JsonValue } = {},
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', comboseg: JSON.stringify(metadata) } };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    if (t.dtype === 'bfloat16') {
      throw new ComboSegError(`safetensors: '${name}' is bfloat16; checkpoints hold float32 (cast it first)`);
    }
    const data = t.toTypedArray();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  return [head, ...blobs];
}

/** Writes a safetensors file atomically. */
export function saveSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata: { [k: string]: JsonValue } = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Decodes a safetensors buffer; `source` (a file path) names it in errors and is their `path`.
 * Throws a ComboSegError with code 'bad-file' for anything malformed.
 */
export function decodeSafetensors(buf: Uint8Array, source?: string): Safetensors {
  const fail = (why: string, cause?: unknown): never => {
    const message = `${source ?? 'safetensors data'}: not a valid safetensors file: ${why}`;
    throw new ComboSegError(message, { code: 'bad-file', path: source, cause });
  };
  if (buf.byteLength < 8) fail(`${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > buf.byteLength - 8 || n > 100 * 2 ** 20)
    fail(`header length ${n} exceeds the file (${buf.byteLength} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`, e);
  }
  if (!isJsonObject(header)) return fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const rawMetadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      const dtype = DTYPES[e.dtype ?? ''];
      if (!dtype) return fail(`tensor '${name}' has unsupported dtype '${e.dtype}'`);
      const shape = e.shape;
      if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
        return fail(`tensor '${name}' has a bad shape`);
      const [begin, end] = e.data_offsets ?? [-1, -1];
      const count = shape.reduce((a, b) => a * b, 1);
      if (
        !Number.isInteger(begin) ||
        !Number.isInteger(end) ||
        begin < 0 ||
        end > dataLen ||
        end - begin !== count * BYTES[dtype]
      ) {
        fail(
          `tensor '${name}' byte range [${begin}, ${end}) ` +
            `does not fit shape [${shape}] ${dtype} in ${dataLen} data bytes`,
        );
      }
      // Uint8Array.prototype.slice copies (Buffer#slice would alias the pool).
      const copy = Uint8Array.prototype.slice.call(buf, dataStart + begin, dataStart + end).buffer;
      tensors[name] = tensor(new ARRAYS[dtype](copy), shape, { dtype, copy: false });
    }
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  let metadata: { [k: string]: JsonValue } = {};
  if (typeof rawMetadata.comboseg === 'string') {
    try {
      metadata = JSON.parse(rawMetadata.comboseg) as { [k: string]: JsonValue };
    } catch (e) {
      fail('the comboseg metadata block is not JSON', e);
    }
  }
  return { tensors, metadata, rawMetadata };
}

/** Reads a safetensors file. Throws a ComboSegError: 'not-found' if missing, 'bad-file' if unreadable or corrupt. */
export function loadSafetensors(path: string): Safetensors {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    throw new ComboSegError(`${path}: cannot read (${errno ?? (e as Error).message})`, {
      code: errno === 'ENOENT' ? 'not-found' : 'bad-file',
      path,
      cause: e,
    });
  }
  return decodeSafetensors(buf, path);
}
