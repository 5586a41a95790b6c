// NIfTI-1 without ITK, for the viewer page (segmentation on the user's machine): read a scan's voxels
// and spacing, and write a label map under the SAME header, so the result keeps the scan's geometry
// (qform, sform, units) to the bit. Node reads files through ITK (./io.ts); this module is engine-
// and Node-free. NIfTI-2, pairs (.hdr/.img) and non-scalar types are refused with a clear message.
import { gunzipSync, gzipSync } from 'fflate';
import { ComboSegError } from '../engine/errors.js';
import type { Volume, VoxelArray } from './volume.js';

/** A NIfTI-1 file read: its header (little-endian, without extensions) and its voxels as a volume. */
export interface NiftiFile {
  /** The 348-byte header, little-endian. */
  header: Uint8Array;
  /**
   * The voxels (scaled by scl_slope / scl_inter) with the spacing; origin and direction are left at
   * the identity — the geometry travels in `header`, which writeNiftiLike copies.
   */
  volume: Volume;
}

// Offsets of the 2- and 4-byte fields of the NIfTI-1 header (to turn a big-endian header around).
const I16 = [36, 40, 42, 44, 46, 48, 50, 52, 54, 68, 70, 72, 74, 120, 252, 254];
const I32 = [0, 32, 56, 60, 64, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, 124, 128, 132, 136, 140, 144];
const F32_GEOMETRY = Array.from({ length: 18 }, (_, i) => 256 + 4 * i); // quatern, qoffset, srow_x/y/z

type ArrayCtor = new (b: ArrayBuffer, offset: number, n: number) => VoxelArray;
const TYPES: Record<number, [string, number, ArrayCtor]> = {
  2: ['uint8', 1, Uint8Array],
  4: ['int16', 2, Int16Array],
  8: ['int32', 4, Int32Array],
  16: ['float32', 4, Float32Array],
  64: ['float64', 8, Float64Array],
  256: ['int8', 1, Int8Array],
  512: ['uint16', 2, Uint16Array],
  768: ['uint32', 4, Uint32Array],
};

function bad(name: string, why: string): never {
  throw new ComboSegError(`${name}: ${why}`, { code: 'bad-file', path: name });
}

/** Byte-swaps the fields at `offsets` of width `w` in place. */
function swap(b: Uint8Array, offsets: number[], w: number): void {
  for (const o of offsets) b.subarray(o, o + w).reverse();
}

/** Reads a .nii or .nii.gz held in memory. */
export function readNifti(bytes: Uint8Array, name: string): NiftiFile {
  let raw = bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      bad(name, `not a readable gzip stream (${(e as Error).message})`);
    }
  }
  if (raw.length < 352) bad(name, `${raw.length} bytes: shorter than a NIfTI-1 header`);
  const header = raw.slice(0, 348);
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const bigEndian = view(header).getInt32(0, true) !== 348;
  if (bigEndian) {
    if (view(header).getInt32(0, false) === 540 || view(header).getInt32(0, true) === 540)
      bad(name, 'NIfTI-2 is not read in the page; convert to NIfTI-1 or segment it with `comboseg predict`');
    if (view(header).getInt32(0, false) !== 348) bad(name, 'not a NIfTI-1 file (sizeof_hdr is not 348)');
    swap(header, I16, 2);
    swap(header, [...I32, ...F32_GEOMETRY], 4);
  }
  const magic = new TextDecoder('latin1').decode(header.subarray(344, 348));
  if (magic !== 'n+1\0') bad(name, `not a single-file NIfTI-1 (magic '${magic.replace('\0', '')}')`);
  const h = view(header);
  const dims = Array.from({ length: 8 }, (_, i) => h.getInt16(40 + 2 * i, true));
  const nd = dims[0];
  if (nd < 3 || nd > 4 || dims.slice(1, nd + 1).some((d) => d < 1))
    bad(name, `dims ${dims.slice(1, Math.max(1, nd) + 1).join('×')}: a 3-D volume (or 4-D channels) is needed`);
  const datatype = h.getInt16(70, true);
  const type = TYPES[datatype] ?? bad(name, `pixel type code ${datatype} is not read in the page`);
  const [pixelType, bytesPer, Ctor] = type;
  const channels = nd === 4 ? dims[4] : 1;
  const n = dims[1] * dims[2] * dims[3] * channels;
  const offset = Math.max(352, Math.round(h.getFloat32(108, true)));
  if (raw.length < offset + n * bytesPer)
    bad(
      name,
      `truncated: ${n} voxels of ${bytesPer} byte(s) need ${offset + n * bytesPer} bytes, the file has ${raw.length}`,
    );
  const store = raw.slice(offset, offset + n * bytesPer);
  if (bigEndian && bytesPer > 1) for (let i = 0; i < n; i++) store.subarray(i * bytesPer, (i + 1) * bytesPer).reverse();
  const stored = new Ctor(store.buffer, 0, n);
  const slope = h.getFloat32(112, true),
    inter = h.getFloat32(116, true);
  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || (Number.isFinite(inter) && inter !== 0));
  const data = scaled ? Float32Array.from(stored, (v) => v * slope + inter) : stored;
  // xyzt_units: metres and microns are scaled to millimetres, as ITK does; unknown (0) is taken as mm.
  const unit = header[123] & 7;
  const toMm = unit === 1 ? 1000 : unit === 3 ? 0.001 : 1;
  const spacing = [1, 2, 3].map((i) => (Math.abs(h.getFloat32(76 + 4 * i, true)) || 1) * toMm) as [
    number,
    number,
    number,
  ];
  const volume: Volume = {
    size: [dims[1], dims[2], dims[3]],
    spacing,
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
    pixelType: scaled ? 'float32' : pixelType,
    ...(channels > 1 ? { channels } : {}),
  };
  return { header, volume };
}

/** A gzipped NIfTI-1 of `data` (one value per voxel of `like`) under `like`'s header: same grid and geometry. */
export function writeNiftiLike(like: NiftiFile, data: Uint8Array | Uint16Array | Float32Array): Uint8Array {
  const [X, Y, Z] = like.volume.size;
  if (data.length !== X * Y * Z) throw new ComboSegError(`writeNiftiLike: ${data.length} values for ${X}×${Y}×${Z}`);
  const header = like.header.slice();
  const h = new DataView(header.buffer);
  const [code, bits] = data instanceof Uint8Array ? [2, 8] : data instanceof Uint16Array ? [512, 16] : [16, 32];
  h.setInt16(40, 3, true); // dim[0]: one 3-D volume
  for (let i = 4; i < 8; i++) h.setInt16(40 + 2 * i, 1, true);
  h.setInt16(70, code, true);
  h.setInt16(72, bits, true);
  h.setFloat32(108, 352, true); // vox_offset: no extensions
  h.setFloat32(112, 1, true); // scl_slope, scl_inter: the values as stored
  h.setFloat32(116, 0, true);
  h.setFloat32(124, 0, true); // cal_max, cal_min: unset
  h.setFloat32(128, 0, true);
  h.setInt16(68, 0, true); // intent: none
  const out = new Uint8Array(352 + data.byteLength);
  out.set(header, 0); // bytes 348–351 stay 0: no extensions
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 352);
  return gzipSync(out, { level: 6 });
}
