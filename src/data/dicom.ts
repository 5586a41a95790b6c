// DICOM image series in: a folder of slices becomes one Volume. The headers (dcmjs, pixel data skipped)
// group the files by SeriesInstanceUID and order them along the slice normal; the series is checked
// (one orientation, no gantry tilt, evenly spaced with no slice missing) before ITK's GDCM reader
// (itk-wasm) decodes it, applying each slice's rescale slope and intercept, geometry in LPS. PET in
// Bq/mL becomes SUV (body weight) with @cornerstonejs/calculate-suv; PET already in SUV (Units GML)
// is kept as it is.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { calculateSUVScalingFactors, type InstanceMetadata } from '@cornerstonejs/calculate-suv';
import { ComboSegError } from '../engine/errors.js';
import { FloatTypes, Image, ImageType } from 'itk-wasm';
import { itkRead, ItkFailure } from './itk.js';
import { dcmjs, hasDicomMarker } from './dcmjs.js';

/** One image series of a folder, its files in slice order. */
export interface DicomSeries {
  uid: string;
  modality: string;
  description: string;
  files: string[];
  /** PET: Units (GML: already SUV; BQML: activity concentration), else undefined. */
  units?: string;
  /** What was done to the values: 'suv-computed' (Bq/mL → SUVbw), 'suv-as-stored' (already SUV), 'as-stored'. */
  values: 'suv-computed' | 'suv-as-stored' | 'as-stored';
}

interface Slice {
  file: string;
  tags: Record<string, unknown>;
}

const num = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : v === undefined ? [] : [Number(v)]);
const str = (v: unknown): string => {
  const x: unknown = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' || typeof x === 'number' ? String(x) : '';
};
const fail = (folder: string, why: string, code: 'bad-file' | 'invalid-input' = 'bad-file'): never => {
  throw new ComboSegError(`${folder}: ${why}`, { code, path: folder });
};

/** The header of one file (pixel data skipped); throws naming the file when it is not DICOM. */
function readHeader(folder: string, file: string): Slice {
  const bytes = readFileSync(file);
  if (!hasDicomMarker(bytes)) {
    fail(folder, `${basename(file)} is not a DICOM file (a series folder holds only DICOM files)`);
  }
  try {
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const { dict } = dcmjs.data.DicomMessage.readFile(ab, { untilTag: '7FE00010', includeUntilTagValue: false });
    return { file, tags: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) };
  } catch (e) {
    return fail(folder, `${basename(file)} is not readable as DICOM: ${(e as Error).message}`);
  }
}

/** The image series of a folder (objects without image positions, e.g. an RTSTRUCT or SEG, are left out). */
export function listDicomSeries(folder: string, shown = folder): DicomSeries[] {
  const files = readdirSync(folder)
    .filter((f) => !f.startsWith('.'))
    .map((f) => join(folder, f))
    .filter((f) => statSync(f).isFile());
  if (!files.length) fail(shown, 'an empty folder: no DICOM series', 'invalid-input');
  const slices = files.map((f) => readHeader(shown, f)).filter((s) => num(s.tags.ImagePositionPatient).length === 3);
  if (!slices.length) fail(shown, 'holds DICOM files but no image slices (no ImagePositionPatient)', 'invalid-input');
  const bySeries = new Map<string, Slice[]>();
  for (const s of slices) {
    const uid = str(s.tags.SeriesInstanceUID);
    bySeries.set(uid, [...(bySeries.get(uid) ?? []), s]);
  }
  return [...bySeries].map(([uid, group]) => ({
    uid,
    modality: str(group[0].tags.Modality),
    description: str(group[0].tags.SeriesDescription),
    files: orderedFiles(shown, group),
    ...(str(group[0].tags.Modality) === 'PT' ? { units: str(group[0].tags.Units) } : {}),
    values: 'as-stored' as const,
  }));
}

/** Three-vector helpers. */
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/**
 * The slices' files along the normal of their (single) orientation; throws on mixed orientations, a
 * gantry tilt (positions not along the normal), two slices at one position, a missing slice or uneven gaps.
 */
function orderedFiles(folder: string, slices: Slice[]): string[] {
  const uid = str(slices[0].tags.SeriesInstanceUID);
  const orientation = num(slices[0].tags.ImageOrientationPatient);
  if (orientation.length !== 6) fail(folder, `series ${uid}: no ImageOrientationPatient`);
  const odd = slices.find((s) =>
    num(s.tags.ImageOrientationPatient).some((v, i) => Math.abs(v - orientation[i]) > 1e-4),
  );
  if (odd) fail(folder, `series ${uid}: mixed orientations (${basename(odd.file)} differs from the others)`);
  const normal = cross(orientation.slice(0, 3), orientation.slice(3));
  const placed = slices
    .map((s) => ({ file: s.file, p: num(s.tags.ImagePositionPatient) }))
    .map((s) => ({ ...s, d: dot(s.p, normal) }))
    .sort((a, b) => a.d - b.d);
  const first = placed[0];
  for (const s of placed.slice(1)) {
    const v = [0, 1, 2].map((i) => s.p[i] - first.p[i]);
    const along = dot(v, normal);
    const off = Math.hypot(...v.map((x, i) => x - along * normal[i]));
    if (off > 1e-3 * Math.abs(along) + 0.01) {
      fail(folder, `series ${uid}: slices are not stacked along their normal (a gantry tilt or a sheared series)`);
    }
  }
  const gaps = placed.slice(1).map((s, i) => s.d - placed[i].d);
  const zero = gaps.findIndex((g) => g < 1e-4);
  if (zero >= 0) {
    const [a, b] = [placed[zero], placed[zero + 1]].map((s) => basename(s.file));
    fail(folder, `series ${uid}: ${a} and ${b} are at the same position`);
  }
  if (gaps.length) {
    const sorted = [...gaps].sort((a, b) => a - b);
    const typical = sorted[Math.floor(sorted.length / 2)];
    const wide = gaps.findIndex((g) => g > 1.5 * typical);
    if (wide >= 0) {
      const at = `${placed[wide].d.toFixed(2)} and ${placed[wide + 1].d.toFixed(2)} mm`;
      fail(
        folder,
        `series ${uid}: a slice is missing between ${at} ` +
          `(gap ${gaps[wide].toFixed(2)} mm, others ${typical.toFixed(2)})`,
      );
    }
    if (sorted[sorted.length - 1] - sorted[0] > 0.01 * typical + 1e-3) {
      const range = `${sorted[0].toFixed(3)}–${sorted[sorted.length - 1].toFixed(3)} mm`;
      fail(folder, `series ${uid}: uneven slice spacing (${range}); comboseg reads evenly spaced series`);
    }
  }
  return placed.map((s) => s.file);
}

/** The series to read: the one of `uid`, or the folder's only one; else an error listing them. */
export function chooseSeries(folder: string, all: DicomSeries[], uid?: string): DicomSeries {
  const list = () =>
    all.map(
      (s) => `  ${s.uid}: ${s.modality}${s.description ? ` '${s.description}'` : ''}, ${s.files.length} slice(s)`,
    );
  if (uid !== undefined) {
    const s = all.find((x) => x.uid === uid);
    if (!s) fail(folder, `no series ${uid}; the folder holds:\n${list().join('\n')}`, 'invalid-input');
    return s as DicomSeries;
  }
  if (all.length > 1) {
    fail(folder, `holds ${all.length} series; choose one with --series UID:\n${list().join('\n')}`, 'invalid-input');
  }
  return all[0];
}

/** SUV (body weight) factors per slice for a PET series in Bq/mL; throws naming what is missing. */
function suvFactors(folder: string, s: DicomSeries): number[] {
  const instances = s.files.map((f): InstanceMetadata => {
    const t = readHeader(folder, f).tags;
    const rp = (
      Array.isArray(t.RadiopharmaceuticalInformationSequence)
        ? t.RadiopharmaceuticalInformationSequence[0]
        : t.RadiopharmaceuticalInformationSequence
    ) as Record<string, unknown> | undefined;
    return {
      CorrectedImage: Array.isArray(t.CorrectedImage) ? t.CorrectedImage.map(String) : str(t.CorrectedImage),
      Units: str(t.Units),
      RadionuclideHalfLife: Number(rp?.RadionuclideHalfLife),
      RadionuclideTotalDose: Number(rp?.RadionuclideTotalDose),
      DecayCorrection: str(t.DecayCorrection),
      PatientWeight: Number(t.PatientWeight),
      SeriesDate: str(t.SeriesDate),
      SeriesTime: str(t.SeriesTime),
      AcquisitionDate: str(t.AcquisitionDate),
      AcquisitionTime: str(t.AcquisitionTime),
      ...(rp?.RadiopharmaceuticalStartTime
        ? { RadiopharmaceuticalStartTime: str(rp.RadiopharmaceuticalStartTime) }
        : {}),
      ...(rp?.RadiopharmaceuticalStartDateTime
        ? { RadiopharmaceuticalStartDateTime: str(rp.RadiopharmaceuticalStartDateTime) }
        : {}),
    };
  });
  try {
    return calculateSUVScalingFactors(instances).map((r) => r.suvbw);
  } catch (e) {
    return fail(
      folder,
      `PET in ${s.units}: cannot compute SUV from its tags (${(e as Error).message})`,
      'invalid-input',
    );
  }
}

/**
 * Reads the image series of a DICOM folder (`uid` chooses among several) as an ITK image of it and what was
 * done to its values; src/data/io.ts turns it into a checked Volume. Each slice is decoded on its own
 * (ITK's series reader applies one rescale slope to every slice, and PET slices each have their own), then
 * stacked in slice order: the first slice gives origin, in-plane spacing and direction, the positions the
 * slice spacing.
 */
export async function readDicomFolder(
  folder: string,
  uid?: string,
  /** How messages name the folder (an upload by its own name, not where the server unpacked it). */
  shown = folder,
): Promise<{ image: Image; series: DicomSeries }> {
  const series = chooseSeries(shown, listDicomSeries(folder, shown), uid);
  const slices: Image[] = [];
  for (const f of series.files) {
    try {
      // ITK reads through its own file system, which does not follow symbolic links.
      slices.push(await itkRead(realpathSync(f)));
    } catch (e) {
      const why = e instanceof ItkFailure ? [e.message, ...e.output].join('; ') : (e as Error).message;
      return fail(shown, `${basename(f)} could not be decoded: ${why}`);
    }
  }
  const image = stack(shown, slices, sliceGap(series.files.map((f) => readHeader(shown, f))));
  if (series.modality !== 'PT') return { image, series };
  if (series.units === 'GML') return { image, series: { ...series, values: 'suv-as-stored' } };
  if (series.units !== 'BQML') return { image, series };
  const factors = suvFactors(shown, series);
  const data = image.data as Float32Array | Float64Array;
  const perSlice = image.size[0] * image.size[1];
  factors.forEach((f, z) => {
    for (let i = z * perSlice; i < (z + 1) * perSlice; i++) data[i] *= f;
  });
  return { image, series: { ...series, values: 'suv-computed' } };
}

/** The distance between consecutive slices along the normal (evenly spaced: orderedFiles checked). */
function sliceGap(slices: Slice[]): number {
  if (slices.length < 2) return num(slices[0].tags.SliceThickness)[0] || 1;
  const o = num(slices[0].tags.ImageOrientationPatient);
  const normal = cross(o.slice(0, 3), o.slice(3));
  const d = slices.map((s) => dot(num(s.tags.ImagePositionPatient), normal));
  return Math.abs(d[d.length - 1] - d[0]) / (d.length - 1);
}

/** Slices (each [X, Y, 1]) as one volume; a float array when their values are not all integers of one type. */
function stack(folder: string, slices: Image[], gap: number): Image {
  const [X, Y] = slices[0].size;
  const odd = slices.findIndex((s) => s.size[0] !== X || s.size[1] !== Y);
  if (odd >= 0)
    fail(folder, `slice ${odd + 1} is ${slices[odd].size[0]} × ${slices[odd].size[1]}, the first ${X} × ${Y}`);
  const types = new Set(slices.map((s) => s.imageType.componentType));
  const kept = types.size === 1 ? (slices[0].data as unknown as ArrayLike<number> & { constructor: unknown }) : null;
  const Ctor = (kept?.constructor ?? Float32Array) as new (n: number) => Float32Array;
  const data = new Ctor(X * Y * slices.length);
  slices.forEach((s, z) => data.set(s.data as unknown as ArrayLike<number>, z * X * Y));
  const first = slices[0];
  const type = types.size === 1 ? first.imageType : new ImageType(3, FloatTypes.Float32, first.imageType.pixelType, 1);
  const image = new Image(type);
  Object.assign(image, {
    name: first.name,
    origin: first.origin,
    direction: first.direction,
    size: [X, Y, slices.length],
    spacing: [first.spacing[0], first.spacing[1], gap],
    data,
  });
  return image;
}

/** Whether `path` is a folder (read as a DICOM series). */
export const isFolder = (path: string): boolean => statSync(path).isDirectory();
