// DICOM Segmentation objects (SEG) out and back in, through itk-wasm's dcmqi (./itk.ts runs it in the ITK
// worker): a label map on the grid of a DICOM series becomes one SEG referencing that series and every
// one of its instances, one segment per organ present.
//
// Segments: the organs of the label set that have at least one voxel, in label-set order, numbered 1..n.
// An organ with no voxel has no segment (dcmqi encodes only the labels present, and a DICOM segment is
// described by its frames); a label map with no organ voxel at all is an error (a SEG holds at least one
// segment). Each segment has SegmentLabel = the organ's name (64 characters at most, DICOM's LO),
// SegmentDescription = "NAME (comboseg label VALUE)" (how `readDicomSeg` gets the label value back, so
// that a label set such as {1, 3, 7} survives the renumbering), SegmentAlgorithmType AUTOMATIC named
// 'comboseg', the recommended display colour of ./palette.ts's organColour for that value (dcmqi stores
// it as RecommendedDisplayCIELabValue), and a generic property code pair, SNOMED CT 85756007 "Tissue"
// (category) / 113343008 "Organ" (type): comboseg knows the organs' names, not their codes.
//
// Every slice of the series is encoded for every segment (1 bit per voxel: segments × voxels / 8 bytes),
// so the SEG references every instance and reads back on the series' own grid.
//
// Pixel data: DICOM packs BINARY frames one after another with no padding between them (PS3.5 8.1.1,
// CP 1132). dcmqi (DCMTK), as itk-wasm 7.6.4 bundles it, shifts every frame after the first few when a
// frame's pixel count is not a multiple of 8 (e.g. a 41 × 43 PET crop; QIICR/dcmqi#341,
// QIICR/QuantitativeReporting#278), and its reader undoes most but not all of that shift. So
// `writeDicomSeg` lets dcmqi build the object, then packs PixelData itself, in place (the same length),
// and `readDicomSeg` unpacks it itself (dcmjs), taking only the grid from itk-wasm's reader. On grids
// whose frames fill whole bytes (512 × 512 CT, 128 × 128 PET) both packings are the same.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Image, ImageType, IntTypes, PixelTypes, type JsonCompatible } from 'itk-wasm';
import { ComboSegError, type ErrorDetails } from '../engine/errors.js';
import { dcmjs, hasDicomMarker } from './dcmjs.js';
import { chooseSeries, listDicomSeries } from './dicom.js';
import { ItkFailure, itkReadDicomSeg, itkReadDicomSeries, itkWriteDicomSeg } from './itk.js';
import { labelCounts, type LabelSet } from './labels.js';
import { organColour } from './palette.js';
import { channelCount, gridDifference, voxelCount, type Geometry, type Vec3, type Volume } from './volume.js';

/** What names the algorithm in each segment. */
export const SEGMENT_ALGORITHM = 'comboseg';
/** The property codes of every segment (SNOMED CT): comboseg names organs, it does not code them. */
export const SEGMENT_CATEGORY = { CodeValue: '85756007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Tissue' };
export const SEGMENT_TYPE = { CodeValue: '113343008', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Organ' };

type Tags = Record<string, unknown>;
const num = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : v === undefined ? [] : [Number(v)]);
const str = (v: unknown): string => {
  const x: unknown = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' || typeof x === 'number' ? String(x) : '';
};
/** Throws the error of `path` (default code 'invalid-input'). */
function fail(path: string, why: string, details: ErrorDetails = {}): never {
  throw new ComboSegError(`${path}: ${why}`, { code: 'invalid-input', path, ...details });
}

/** A DICOM file's data set (without its pixel data unless `pixels`), or null when the file is not DICOM. */
function dicomHeader(file: string, pixels = false): Tags | null {
  const bytes = readFileSync(file);
  if (!hasDicomMarker(bytes)) return null;
  try {
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const options = pixels ? {} : { untilTag: '7FE00010', includeUntilTagValue: false };
    const { dict } = dcmjs.data.DicomMessage.readFile(ab, options);
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict);
  } catch {
    return null;
  }
}

/**
 * The image slices of one series ordered along their normal (ascending, as ITK's GDCM sorter orders them):
 * files without an image position (a SEG, an RTSTRUCT) are left out; a file that is not DICOM, several
 * series or mixed orientations are errors naming `where`.
 */
export function sortDicomSlices(files: string[], where: string): string[] {
  const slices: { file: string; tags: Tags }[] = [];
  for (const file of files) {
    const tags = dicomHeader(file);
    if (!tags) fail(where, `${basename(file)} is not a DICOM file`, { code: 'bad-file' });
    else if (num(tags.ImagePositionPatient).length === 3) slices.push({ file, tags });
  }
  if (!slices.length) fail(where, 'no DICOM image slices (no file with an ImagePositionPatient)');
  const series = [...new Set(slices.map((s) => str(s.tags.SeriesInstanceUID)))];
  if (series.length > 1) fail(where, `holds ${series.length} series (${series.join(', ')}); a SEG references one`);
  const o = num(slices[0].tags.ImageOrientationPatient);
  if (o.length !== 6) fail(where, `${basename(slices[0].file)} has no ImageOrientationPatient`, { code: 'bad-file' });
  const odd = slices.find((s) => num(s.tags.ImageOrientationPatient).some((v, i) => Math.abs(v - o[i]) > 1e-4));
  if (odd) fail(where, `mixed slice orientations (${basename(odd.file)} differs from the others)`);
  const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  const along = (s: { tags: Tags }) => {
    const p = num(s.tags.ImagePositionPatient);
    return p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
  };
  return slices
    .map((s) => ({ file: s.file, d: along(s) }))
    .sort((a, b) => a.d - b.d)
    .map((s) => s.file);
}

/**
 * The files of the DICOM series in `folder` (`uid` chooses among several), in slice order, as
 * `readVolume(folder)` reads them (./dicom.ts): what `writeDicomSeg` takes as the source of a prediction
 * made from that folder.
 */
export async function dicomSeriesFiles(folder: string, uid?: string): Promise<string[]> {
  if (!existsSync(folder)) fail(folder, 'no such folder', { code: 'not-found' });
  if (!statSync(folder).isDirectory()) fail(folder, 'not a folder (a DICOM series is a folder of slices)');
  return Promise.resolve(chooseSeries(folder, listDicomSeries(folder), uid).files);
}

const round = (x: ArrayLike<number>) => `[${Array.from(x, (v) => +v.toFixed(4)).join(', ')}]`;
const describeGrid = (g: Geometry) =>
  `size ${round(g.size)}, spacing ${round(g.spacing)}, origin ${round(g.origin)}, direction ${round(g.direction)}`;

/** ITK's image geometry as comboseg's. */
function geometryOfImage(img: Image): Geometry {
  const three = (a: ArrayLike<number>) => Array.from(a).slice(0, 3) as Vec3;
  return {
    size: three(img.size),
    spacing: three(img.spacing),
    origin: three(img.origin),
    direction: Array.from(img.direction, Number),
  };
}

/** Throws unless `labels` lies on the grid of the series `files` (as itk-wasm reads it), naming both grids. */
async function checkSeriesGrid(path: string, labels: Volume, files: string[]): Promise<void> {
  let series: Image;
  try {
    series = await itkReadDicomSeries(files);
  } catch (e) {
    const why = e instanceof ItkFailure ? [e.message, ...e.output].join('; ') : (e as Error).message;
    return fail(path, `the source DICOM series could not be read (${why})`, { code: 'bad-file', cause: e });
  }
  const grid = geometryOfImage(series);
  const why = gridDifference(labels, grid);
  if (why) {
    const msg =
      `the label map is not on the grid of the source DICOM series (${why}): ` +
      `label map ${describeGrid(labels)}; series (${files.length} files) ${describeGrid(grid)}`;
    fail(path, msg);
  }
}

/** The organs present (label-set order, numbered 1..n) and the label map of their numbers as int16. */
function segmentImage(path: string, labels: Volume, labelSet: LabelSet): { image: Image; organs: number[] } {
  const counts = labelCounts(labels.data);
  const unknown = [...counts.keys()].filter((v) => v !== 0 && !labelSet.values.includes(v)).sort((a, b) => a - b);
  if (unknown.length) {
    const named = labelSet.values.map((v, k) => `${v}:${labelSet.names[k]}`).join(', ');
    fail(path, `the label map holds value(s) ${unknown.join(', ')}, which are no organ of the label set (${named})`);
  }
  const organs = labelSet.values.map((_, k) => k).filter((k) => counts.has(labelSet.values[k]));
  if (!organs.length) {
    const why = `nothing to write: no voxel of ${labelSet.names.join(', ')}; a DICOM SEG holds at least one segment`;
    fail(path, why);
  }
  const number = new Map(organs.map((k, i) => [labelSet.values[k], i + 1]));
  const data = new Int16Array(labels.data.length);
  for (let i = 0; i < data.length; i++) data[i] = number.get(labels.data[i]) ?? 0;
  const image = new Image(new ImageType(3, IntTypes.Int16, PixelTypes.Scalar, 1));
  image.size = [...labels.size];
  image.spacing = [...labels.spacing];
  image.origin = [...labels.origin];
  image.direction = Float64Array.from(labels.direction);
  image.data = data;
  return { image, organs };
}

/** DICOM's LO: at most 64 characters, no backslash or control character. */
const lo = (s: string) => s.replace(/[\\\p{Cc}]/gu, ' ').slice(0, 64);
const DESCRIPTION = / \(comboseg label (\d+)\)$/;

/** dcmqi's metaInfo for the organs `organs` (indices into the label set), segments 1..n in that order. */
function metaInfoOf(labelSet: LabelSet, organs: number[]): JsonCompatible {
  const segment = (k: number, i: number): JsonCompatible => {
    const [value, name] = [labelSet.values[k], labelSet.names[k]];
    return {
      labelID: i + 1,
      SegmentLabel: lo(name),
      SegmentDescription: `${name.replace(/\p{Cc}/gu, ' ')} (comboseg label ${value})`,
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: SEGMENT_ALGORITHM,
      recommendedDisplayRGBValue: organColour(value),
      SegmentedPropertyCategoryCodeSequence: SEGMENT_CATEGORY,
      SegmentedPropertyTypeCodeSequence: SEGMENT_TYPE,
    };
  };
  return {
    ContentCreatorName: 'comboseg',
    ContentLabel: 'SEGMENTATION',
    ContentDescription: 'comboseg automatic segmentation',
    SeriesDescription: 'comboseg segmentation',
    SeriesNumber: '300',
    InstanceNumber: '1',
    segmentAttributes: [organs.map(segment)],
  };
}

/**
 * Writes `labels` (a label map of the values of `labelSet`, on the grid of the DICOM series `sourceFiles`)
 * as a DICOM Segmentation object at `path`, atomically (a temporary file beside it, then renamed): one
 * segment per organ present (see the top of this file). The files may come in any order; they must be one
 * series, and the label map must lie on its grid as itk-wasm reads it (else an error naming both grids).
 */
export async function writeDicomSeg(
  path: string,
  labels: Volume,
  labelSet: LabelSet,
  sourceFiles: string[],
): Promise<void> {
  if (labelSet.values.length !== labelSet.names.length) {
    fail(path, `the label set has ${labelSet.values.length} values and ${labelSet.names.length} names`);
  }
  if (channelCount(labels) !== 1) fail(path, `a label map has one channel, this one ${channelCount(labels)}`);
  if (labels.data.length !== voxelCount(labels)) {
    fail(path, `label map data has ${labels.data.length} voxels, size [${labels.size}] needs ${voxelCount(labels)}`);
  }
  const dir = dirname(path) || '.';
  if (!existsSync(dir)) fail(path, `folder ${dir} does not exist`, { code: 'not-found' });
  if (!sourceFiles.length) fail(path, 'no source DICOM files: a SEG references the series it segments');
  const missing = sourceFiles.find((f) => !existsSync(f));
  if (missing) fail(path, `source DICOM file ${missing} does not exist`, { code: 'not-found' });
  // itk-wasm reads and writes through its own file system, which does not follow symbolic links.
  const files = sortDicomSlices(
    sourceFiles.map((f) => realpathSync(f)),
    'the source DICOM series',
  );
  await checkSeriesGrid(path, labels, files);
  const { image, organs } = segmentImage(path, labels, labelSet);
  const tmp = join(realpathSync(dir), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await itkWriteDicomSeg(image, metaInfoOf(labelSet, organs), files, tmp);
    repackPixelData(path, tmp, labels, (segment) => labelSet.values[organs[segment - 1]]);
    renameSync(tmp, path);
  } catch (e) {
    if (e instanceof ComboSegError) throw e;
    const why = e instanceof ItkFailure ? [e.message, ...e.output].join('; ') : (e as Error).message;
    fail(path, `could not write the DICOM SEG (${why.split('\n')[0]})`, { code: 'failed', cause: e });
  } finally {
    rmSync(tmp, { force: true });
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const items = (v: unknown): Tags[] => (Array.isArray(v) ? v.filter(isRecord) : isRecord(v) ? [v] : []);

/** The slice of `grid` whose origin is the LPS point `p` (a frame's ImagePositionPatient), or null if none. */
function sliceAt(g: Geometry, p: number[]): number | null {
  if (p.length !== 3) return null;
  const d = [0, 1, 2].map((i) => p[i] - g.origin[i]);
  const along = (c: number) =>
    (d[0] * g.direction[c] + d[1] * g.direction[3 + c] + d[2] * g.direction[6 + c]) / g.spacing[c];
  const k = along(2);
  const slice = Math.round(k);
  const on = Math.abs(along(0)) < 0.01 && Math.abs(along(1)) < 0.01 && Math.abs(k - slice) < 0.01;
  return on && slice >= 0 && slice < g.size[2] ? slice : null;
}

/** The frames of a BINARY SEG: the segment each shows and its slice of `grid` (rows along y, columns along x). */
function framesOf(path: string, seg: Tags, grid: Geometry): { segment: number; slice: number }[] {
  const bad = (why: string): never => fail(path, why, { code: 'bad-file' });
  if (Number(seg.BitsAllocated) !== 1) {
    const why = `a ${str(seg.SegmentationType) || 'non-binary'} SEG (BitsAllocated ${str(seg.BitsAllocated)})`;
    fail(path, `${why}; comboseg reads BINARY SEGs`, { code: 'unsupported' });
  }
  if (Number(seg.Columns) !== grid.size[0] || Number(seg.Rows) !== grid.size[1]) {
    bad(`frames of ${str(seg.Columns)} × ${str(seg.Rows)} pixels on a grid of ${grid.size[0]} × ${grid.size[1]}`);
  }
  const perFrame = items(seg.PerFrameFunctionalGroupsSequence);
  const shared = items(seg.SharedFunctionalGroupsSequence).at(0) ?? {};
  if (perFrame.length !== Number(seg.NumberOfFrames)) {
    bad(`${perFrame.length} per-frame functional groups for ${str(seg.NumberOfFrames)} frames`);
  }
  return perFrame.map((group, f) => {
    const item = (name: string): Tags => items(group[name]).at(0) ?? items(shared[name]).at(0) ?? {};
    const segment = Number(item('SegmentIdentificationSequence').ReferencedSegmentNumber);
    const slice = sliceAt(grid, num(item('PlanePositionSequence').ImagePositionPatient));
    if (!(segment >= 1)) bad(`frame ${f + 1} names no segment`);
    if (slice === null) bad(`frame ${f + 1} lies on no slice of the grid ${describeGrid(grid)}`);
    return { segment, slice: slice ?? 0 };
  });
}

/** A SEG's PixelData as bytes; an error unless it is one uncompressed value holding `frames` frames. */
function pixelBytes(path: string, seg: Tags, frames: number): Uint8Array {
  const value = seg.PixelData;
  const buffer: unknown = Array.isArray(value) && value.length === 1 ? value[0] : undefined;
  if (!(buffer instanceof ArrayBuffer)) {
    fail(path, 'PixelData is not one uncompressed value (a compressed SEG?)', { code: 'unsupported' });
  }
  const bytes = new Uint8Array(buffer);
  const needs = Math.ceil((frames * Number(seg.Rows) * Number(seg.Columns)) / 8);
  if (bytes.length < needs) fail(path, `PixelData holds ${bytes.length} bytes, ${frames} frames need ${needs}`);
  return bytes;
}

/**
 * Packs the SEG `tmp` (dcmqi's, for `path`) again, in place: frame f's pixel p (y · columns + x) at bit
 * f · rows · columns + p, least significant bit first (PS3.5 8.1.1), set where `labels` holds the value of
 * the frame's segment. PixelData is the last element of dcmqi's file (explicit VR little endian).
 */
function repackPixelData(path: string, tmp: string, labels: Volume, valueOf: (segment: number) => number): void {
  const seg = dicomHeader(tmp, true);
  if (!seg) return fail(path, 'dcmqi wrote no readable DICOM file', { code: 'failed' });
  const frames = framesOf(path, seg, labels);
  const n = labels.size[0] * labels.size[1];
  const bytes = new Uint8Array(pixelBytes(path, seg, frames.length).length);
  frames.forEach(({ segment, slice }, f) => {
    const value = valueOf(segment);
    for (let p = 0; p < n; p++) {
      if (labels.data[slice * n + p] === value) bytes[(f * n + p) >> 3] |= 1 << ((f * n + p) & 7);
    }
  });
  const fd = openSync(tmp, 'r+');
  try {
    const at = fstatSync(fd).size - bytes.length;
    const head = Buffer.alloc(12);
    readSync(fd, head, 0, 12, at - 12);
    const vr = head.toString('latin1', 4, 6);
    if (head.readUInt32LE(0) !== 0x00107fe0 || !['OB', 'OW'].includes(vr) || head.readUInt32LE(8) !== bytes.length) {
      fail(path, 'PixelData is not the last element of the SEG dcmqi wrote', { code: 'failed' });
    }
    writeSync(fd, bytes, 0, bytes.length, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Segment number → label value and name, from the SegmentSequence (see the top of this file). */
function segmentsOf(path: string, seg: Tags): Map<number, { value: number; name: string }> {
  const segments = new Map<number, { value: number; name: string }>();
  for (const s of items(seg.SegmentSequence)) {
    const number = Number(s.SegmentNumber);
    const description = str(s.SegmentDescription);
    const m = DESCRIPTION.exec(description);
    segments.set(number, { value: m ? Number(m[1]) : number, name: str(s.SegmentLabel) || description });
  }
  if (!segments.size) fail(path, 'a DICOM SEG without segments', { code: 'bad-file' });
  const values = [...segments.values()].map((s) => s.value);
  if (new Set(values).size !== values.length) fail(path, 'two segments share a label value', { code: 'bad-file' });
  return segments;
}

/** The label map of a SEG's frames on `grid`; overlapping segments are an error (a label map holds one). */
function unpackFrames(path: string, seg: Tags, grid: Geometry, segments: Map<number, { value: number }>): Volume {
  const frames = framesOf(path, seg, grid);
  const bytes = pixelBytes(path, seg, frames.length);
  const max = Math.max(...[...segments.values()].map((s) => s.value));
  const N = voxelCount(grid);
  const data = max < 256 ? new Uint8Array(N) : max < 65536 ? new Uint16Array(N) : new Uint32Array(N);
  const n = grid.size[0] * grid.size[1];
  frames.forEach(({ segment, slice }, f) => {
    const value = segments.get(segment)?.value;
    if (value === undefined) fail(path, `frame ${f + 1} shows segment ${segment}, which the SEG does not describe`);
    for (let p = 0; p < n; p++) {
      if (!((bytes[(f * n + p) >> 3] >> ((f * n + p) & 7)) & 1)) continue;
      const i = slice * n + p;
      if (data[i] !== 0 && data[i] !== value) {
        const why = `segments overlap (voxel ${i} is in the segments of values ${data[i]} and ${value})`;
        fail(path, `${why}; a label map holds one organ per voxel`, { code: 'unsupported' });
      }
      data[i] = value;
    }
  });
  const pixelType = data instanceof Uint8Array ? 'uint8' : data instanceof Uint16Array ? 'uint16' : 'uint32';
  return { ...grid, data, pixelType };
}

/**
 * Reads a DICOM SEG (BINARY, non-overlapping segments) as a label map on the grid that itk-wasm's SEG reader
 * (dcmqi) gives it, the grid its frames span (a SEG of `writeDicomSeg`: the source series' grid), and its
 * segments in segment order: the label value of each (comboseg's own, from its description; else the segment
 * number) and its name (SegmentLabel). The frames are unpacked here, per the standard (see the top of this file).
 */
export async function readDicomSeg(
  path: string,
): Promise<{ labels: Volume; segments: { value: number; name: string }[] }> {
  if (!existsSync(path)) fail(path, 'no such file', { code: 'not-found' });
  let grid: Geometry;
  try {
    grid = geometryOfImage((await itkReadDicomSeg(realpathSync(path))).image);
  } catch (e) {
    const why = e instanceof ItkFailure ? [e.message, ...e.output].join('; ') : (e as Error).message;
    return fail(path, `not readable as a DICOM SEG (${why.split('\n')[0]})`, { code: 'bad-file', cause: e });
  }
  const seg = dicomHeader(path, true);
  if (!seg || str(seg.Modality) !== 'SEG') return fail(path, 'not a DICOM SEG', { code: 'bad-file' });
  const segments = segmentsOf(path, seg);
  const labels = unpackFrames(path, seg, grid, segments);
  return { labels, segments: [...segments].sort((a, b) => a[0] - b[0]).map(([, s]) => s) };
}
