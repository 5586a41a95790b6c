// DICOM RT Structure Sets (RTSTRUCT) in: the contours of each ROI, closed planar polygons in patient
// coordinates (LPS, mm, as DICOM stores them), rasterised onto a grid as a label map (ROI k → value
// k + 1), so that a data set of image series + RTSTRUCT trains and evaluates like one of label maps.
//
// Rasterisation rules (MIRP's rule, which the IBSI masks follow):
// - Points go to continuous index space with the inverse of direction · diag(spacing) (any
//   direction, oblique included). A contour must lie in one of the grid's slice planes (k constant
//   to PLANE_TOLERANCE slices); one whose plane is not parallel to the slices is an error.
// - Slice matching: a contour belongs to the slice whose centre is within half a slice thickness of
//   its plane, i.e. k = round(plane's k); a plane exactly half-way goes to the higher index.
// - A voxel is inside when its centre is inside the polygon in the slice plane (scanline crossings,
//   within each polygon's bounding box). A centre exactly on an edge: intervals are half-open in
//   index space, [low, high) along i and along j — a centre on an edge is inside when the
//   polygon's interior lies towards +i of it (+j for an edge along i), outside otherwise — so a
//   square with corners on voxel centres (i0, j0)–(i1, j1) holds (i1 − i0) × (j1 − j0) voxels, and
//   polygons that tile a plane share no voxel.
// - Several contours of one ROI on one slice combine by the even-odd rule (each toggles the voxels
//   it encloses), so a contour inside another is a hole, and an island in the hole is inside again.
// - Overlapping ROIs: a later ROI's value overwrites an earlier one's.
// - Off the grid: a contour whose slice is not on the grid, or whose polygon lies wholly outside the
//   grid's in-plane extent, is ignored and counted (`offGrid`; callers report it); one partly off
//   the grid is clipped. When every contour of the chosen ROIs is off the grid, that is an error
//   (it is the structure set of another series, or of another frame of reference).
import { existsSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { ComboSegError } from '../engine/errors.js';
import { geometryOf, voxelCount, type Geometry, type Volume } from './volume.js';
import { dcmjs, hasDicomMarker } from './dcmjs.js';

/** RT Structure Set Storage. */
export const RTSTRUCT_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.481.3';
/** How far (in slices) the points of one contour may stray from its plane. */
export const PLANE_TOLERANCE = 0.1;

export interface RtRoi {
  /** ROI Number (3006,0022). */
  number: number;
  /** ROI Name (3006,0026), trimmed; `ROI <number>` when it has none. */
  name: string;
  /** Closed planar polygons, each its points' x, y, z (LPS, mm) in turn; the last point joins the first. */
  contours: Float64Array[];
}

export interface Rtstruct {
  /** The file, as given. */
  path: string;
  /** In file order (Structure Set ROI Sequence), ROIs with no contour included. */
  rois: RtRoi[];
  /** The frames of reference the structure set refers to. */
  frameOfReferenceUids: string[];
  /** The image series its contours were drawn on (Referenced Frame of Reference → Study → Series). */
  seriesInstanceUids: string[];
  /** Contours that are not closed polygons (POINT, OPEN_PLANAR, OPEN_NONPLANAR): not read. */
  ignoredContours: number;
}

type Item = Record<string, unknown>;
const isItem = (v: unknown): v is Item => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A sequence's items (dcmjs gives an array, or one object for one item). */
const items = (v: unknown): Item[] => (Array.isArray(v) ? v.filter(isItem) : isItem(v) ? [v] : []);
/** A text or number value as text (the first of several), trimmed; '' for anything else. */
const str = (v: unknown): string => {
  const first: unknown = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first.trim() : typeof first === 'number' ? String(first) : '';
};
const nums = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : v === undefined ? [] : [Number(v)]);
const bad = (path: string, why: string, code: 'bad-file' | 'not-found' | 'invalid-input' = 'bad-file'): never => {
  throw new ComboSegError(`${path}: ${why}`, { code, path });
};
const arrayBufferOf = (b: Buffer): ArrayBuffer => {
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return ab;
};

/** Whether a parsed DICOM object is a structure set: Modality RTSTRUCT, or the RTSTRUCT SOP class. */
function saysRtstruct(tags: Item, meta: Item): boolean {
  const sop = str(tags.SOPClassUID) || str(meta.MediaStorageSOPClassUID);
  return str(tags.Modality).toUpperCase() === 'RTSTRUCT' || sop === RTSTRUCT_SOP_CLASS;
}

/** The dataset and file meta information of a DICOM buffer (`untilModality`: stop after Modality). */
function parse(bytes: Buffer, untilModality: boolean): { tags: Item; meta: Item } {
  const stop = untilModality ? { untilTag: '00080060', includeUntilTagValue: true, stopOnGreaterTag: true } : {};
  const { dict, meta } = dcmjs.data.DicomMessage.readFile(arrayBufferOf(bytes), stop);
  const natural = dcmjs.data.DicomMetaDictionary;
  return { tags: natural.naturalizeDataset(dict), meta: isItem(meta) ? natural.naturalizeDataset(meta) : {} };
}

/**
 * Whether a file is a DICOM RTSTRUCT, cheaply: the 'DICM' marker, then the header up to Modality
 * (the whole file only when that much does not parse). False for anything else, missing files included.
 */
export async function isRtstruct(path: string): Promise<boolean> {
  let head: Buffer;
  try {
    const f = await open(path, 'r');
    try {
      const b = Buffer.alloc(1 << 16);
      head = b.subarray(0, (await f.read(b, 0, b.length, 0)).bytesRead);
    } finally {
      await f.close();
    }
  } catch {
    return false; // a folder, a missing or unreadable file
  }
  if (!hasDicomMarker(head)) return false;
  try {
    const { tags, meta } = parse(head, true);
    return saysRtstruct(tags, meta);
  } catch {
    if (head.length < 1 << 16) return false;
  }
  try {
    const { tags, meta } = parse(await readFile(path), true);
    return saysRtstruct(tags, meta);
  } catch {
    return false;
  }
}

/** A file's DICOM dataset, checked to be an RTSTRUCT; errors name the file. */
async function readStructureSet(path: string): Promise<Item> {
  if (!existsSync(path)) bad(path, 'no such file', 'not-found');
  if (!statSync(path).isFile()) bad(path, 'not a file (an RTSTRUCT is one DICOM file)');
  const bytes = await readFile(path);
  if (!hasDicomMarker(bytes)) bad(path, "not a DICOM file (no 'DICM' marker at byte 128); expected a DICOM RTSTRUCT");
  // The header up to Modality first: another kind of DICOM file (a CT slice) is refused unparsed.
  const readAs = (whole: boolean) => {
    try {
      return parse(bytes, !whole);
    } catch (e) {
      return bad(path, `not readable as DICOM (${(e as Error).message})`);
    }
  };
  const head = readAs(false);
  if (!saysRtstruct(head.tags, head.meta)) {
    const modality = str(head.tags.Modality) || 'absent';
    const sop = str(head.tags.SOPClassUID) || str(head.meta.MediaStorageSOPClassUID) || 'absent';
    const why = `a DICOM file but not an RTSTRUCT (Modality ${modality}, SOP class ${sop}); expected Modality RTSTRUCT`;
    bad(path, `${why}, SOP class ${RTSTRUCT_SOP_CLASS} (RT Structure Set Storage)`);
  }
  const { tags } = readAs(true);
  return tags;
}

/** The ROIs of a structure set with their closed planar contours, and how many other contours it holds. */
function readRois(path: string, tags: Item): { rois: RtRoi[]; ignored: number } {
  const rois: RtRoi[] = [];
  const byNumber = new Map<number, RtRoi>();
  const roiOf = (n: number, name = '') => {
    let roi = byNumber.get(n);
    if (!roi) {
      roi = { number: n, name: name || `ROI ${n}`, contours: [] };
      rois.push(roi);
      byNumber.set(n, roi);
    }
    return roi;
  };
  for (const d of items(tags.StructureSetROISequence)) roiOf(Number(str(d.ROINumber)), str(d.ROIName));
  let ignored = 0;
  for (const rc of items(tags.ROIContourSequence)) {
    const roi = roiOf(Number(str(rc.ReferencedROINumber))); // contours of an undeclared ROI: named by number
    items(rc.ContourSequence).forEach((c, j) => {
      if (str(c.ContourGeometricType).toUpperCase() !== 'CLOSED_PLANAR') {
        ignored++;
        return;
      }
      const xyz = nums(c.ContourData);
      if (xyz.length % 3 !== 0 || !xyz.every(Number.isFinite)) {
        const why = `${xyz.length} values, not finite x, y, z triples`;
        bad(path, `ROI '${roi.name}' contour ${j + 1}: its Contour Data holds ${why}`);
      }
      if (xyz.length >= 9) roi.contours.push(Float64Array.from(xyz)); // fewer than 3 points enclose nothing
    });
  }
  return { rois, ignored };
}

/** The UIDs found at `key` in the items of a sequence path, de-duplicated. */
function uidsAt(root: Item, path: string[], key: string): string[] {
  let level: Item[] = [root];
  for (const p of path) level = level.flatMap((it) => items(it[p]));
  return [...new Set(level.map((it) => str(it[key])).filter(Boolean))];
}

/**
 * Reads a DICOM RT Structure Set: its ROIs (file order) with their closed planar contours in LPS mm,
 * and the frame of reference and series it refers to. A ComboSegError naming the file when it is
 * missing, not DICOM, not an RTSTRUCT, or holds no contour.
 */
export async function readRtstruct(path: string): Promise<Rtstruct> {
  const tags = await readStructureSet(path);
  const { rois, ignored } = readRois(path, tags);
  const count = rois.reduce((a, r) => a + r.contours.length, 0);
  if (!count) {
    const other = ignored ? ` (${ignored} point or open contour(s), which enclose nothing)` : '';
    bad(path, `no contours: its ${rois.length} ROI(s) hold no closed planar contour${other}`, 'invalid-input');
  }
  const refs = ['ReferencedFrameOfReferenceSequence'];
  const frames = [...uidsAt(tags, refs, 'FrameOfReferenceUID'), ...uidsAt(tags, [], 'FrameOfReferenceUID')];
  const seriesPath = [...refs, 'RTReferencedStudySequence', 'RTReferencedSeriesSequence'];
  return {
    path,
    rois,
    frameOfReferenceUids: [...new Set(frames)],
    seriesInstanceUids: uidsAt(tags, seriesPath, 'SeriesInstanceUID'),
    ignoredContours: ignored,
  };
}

// ---------------------------------------------------------------------------------------------
// Rasterisation

export interface RasterisedRtstruct {
  /** On the grid given; 0 background, k + 1 for the k-th chosen ROI. uint8 (uint16 beyond 255 ROIs). */
  labels: Volume;
  /** Label value → ROI name. */
  names: Record<number, string>;
  /** Contours left out because they lie off the grid (see the top of this file). */
  offGrid: number;
}

/** The ROIs to rasterise: all (file order), or those named, in the order named (exact name, else any case). */
function chooseRois(rt: Rtstruct, wanted: string[] | undefined): RtRoi[] {
  if (!wanted) return rt.rois;
  return wanted.map((name) => {
    const exact = rt.rois.find((r) => r.name === name);
    const loose = rt.rois.filter((r) => r.name.toLowerCase() === name.toLowerCase());
    if (exact) return exact;
    if (loose.length === 1) return loose[0];
    const have = rt.rois.map((r) => `'${r.name}'`).join(', ');
    const why = loose.length ? `several ROIs match '${name}' when case is ignored` : `no ROI named '${name}'`;
    throw new ComboSegError(`${rt.path}: ${why}; its ROIs are ${have}`, { code: 'invalid-option', path: rt.path });
  });
}

/** Physical (LPS mm) → continuous index: the inverse of direction · diag(spacing), after the origin. */
function physicalToIndex(g: Geometry, path: string): (x: number, y: number, z: number) => [number, number, number] {
  const [a, b, c, d, e, f, gg, h, i] = g.direction;
  const det = a * (e * i - f * h) - b * (d * i - f * gg) + c * (d * h - e * gg);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-9) {
    bad(path, `the grid's direction [${g.direction}] is singular; cannot place contours on it`, 'invalid-input');
  }
  // Rows of direction⁻¹ (adjugate / det), each divided by its axis' spacing.
  const inv = [
    [e * i - f * h, c * h - b * i, b * f - c * e],
    [f * gg - d * i, a * i - c * gg, c * d - a * f],
    [d * h - e * gg, b * gg - a * h, a * e - b * d],
  ].map((row, axis) => row.map((v) => v / det / g.spacing[axis]));
  const [ox, oy, oz] = g.origin;
  return (x, y, z) => {
    const p = x - ox,
      q = y - oy,
      r = z - oz;
    return [0, 1, 2].map((k) => inv[k][0] * p + inv[k][1] * q + inv[k][2] * r) as [number, number, number];
  };
}

/** A coordinate within 1e-6 of an integer is that integer (so points on voxel centres obey the edge rule). */
const snap = (v: number) => (Math.abs(v - Math.round(v)) < 1e-6 ? Math.round(v) : v);

interface SlicePolygon {
  slice: number;
  /** The polygon in the slice: i, j of each point in turn. */
  ij: Float64Array;
}

/** A contour in index space on its slice; null when it is off the grid; throws when it is not in a slice plane. */
function onGrid(
  xyz: Float64Array,
  g: Geometry,
  toIndex: ReturnType<typeof physicalToIndex>,
  where: { path: string; what: string },
): SlicePolygon | null {
  const n = xyz.length / 3;
  const ij = new Float64Array(2 * n);
  let kMin = Infinity,
    kMax = -Infinity,
    iMin = Infinity,
    iMax = -Infinity,
    jMin = Infinity,
    jMax = -Infinity;
  for (let p = 0; p < n; p++) {
    const [i, j, k] = toIndex(xyz[3 * p], xyz[3 * p + 1], xyz[3 * p + 2]);
    ij[2 * p] = snap(i);
    ij[2 * p + 1] = snap(j);
    kMin = Math.min(kMin, k);
    kMax = Math.max(kMax, k);
    iMin = Math.min(iMin, i);
    iMax = Math.max(iMax, i);
    jMin = Math.min(jMin, j);
    jMax = Math.max(jMax, j);
  }
  if (kMax - kMin > PLANE_TOLERANCE) {
    const span = `its points span ${(kMax - kMin).toFixed(2)} slices along the grid's third axis`;
    const why = `is not in a plane parallel to the grid's slices (${span}); oblique contours cannot be rasterised`;
    throw new ComboSegError(`${where.path}: ${where.what} ${why}`, { code: 'invalid-input', path: where.path });
  }
  // The slice whose centre is within half a slice thickness of the contour's plane.
  const slice = Math.round((kMin + kMax) / 2);
  const [nx, ny, nz] = g.size;
  if (slice < 0 || slice >= nz || iMax < 0 || iMin > nx - 1 || jMax < 0 || jMin > ny - 1) return null;
  return { slice, ij };
}

/**
 * Toggles (even-odd) the voxels of one slice whose centres lie inside a polygon: scanline crossings
 * per row, half-open [low, high) along i and j (see the top of this file). Rows outside the
 * polygon's bounding box are never visited.
 */
function togglePolygon(ij: Float64Array, nx: number, ny: number, parity: Uint8Array): void {
  const m = ij.length / 2;
  let jMin = Infinity,
    jMax = -Infinity;
  for (let p = 0; p < m; p++) {
    jMin = Math.min(jMin, ij[2 * p + 1]);
    jMax = Math.max(jMax, ij[2 * p + 1]);
  }
  const r0 = Math.max(0, Math.ceil(jMin)),
    r1 = Math.min(ny - 1, Math.ceil(jMax) - 1);
  if (r0 > r1) return;
  const rows: number[][] = Array.from({ length: r1 - r0 + 1 }, () => []);
  for (let p = 0; p < m; p++) {
    const q = (p + 1) % m;
    const ia = ij[2 * p],
      ja = ij[2 * p + 1],
      ib = ij[2 * q],
      jb = ij[2 * q + 1];
    if (ja === jb) continue; // an edge along i crosses no row centre line
    // The rows y with min(ja, jb) ≤ y < max(ja, jb): each crosses this edge once.
    const from = Math.max(r0, Math.ceil(Math.min(ja, jb))),
      to = Math.min(r1, Math.ceil(Math.max(ja, jb)) - 1);
    for (let y = from; y <= to; y++) rows[y - r0].push(ia + ((y - ja) * (ib - ia)) / (jb - ja));
  }
  rows.forEach((xs, r) => {
    xs.sort((u, v) => u - v);
    const row = (r0 + r) * nx;
    for (let t = 0; t + 1 < xs.length; t += 2) {
      const c1 = Math.min(nx - 1, Math.ceil(xs[t + 1]) - 1);
      for (let c = Math.max(0, Math.ceil(xs[t])); c <= c1; c++) parity[row + c] ^= 1;
    }
  });
}

/** Writes `value` where the polygons of one slice enclose a voxel centre an odd number of times. */
function fillSlice(out: Volume['data'], g: Geometry, slice: number, polys: Float64Array[], value: number) {
  const [nx, ny] = g.size;
  const parity = new Uint8Array(nx * ny);
  for (const ij of polys) togglePolygon(ij, nx, ny, parity);
  const base = slice * nx * ny;
  for (let v = 0; v < parity.length; v++) if (parity[v]) out[base + v] = value;
}

/**
 * Rasterises an RTSTRUCT's contours onto a grid (see the rules at the top of this file): the k-th
 * ROI (file order, or the order of `o.rois`, which names the ROIs to keep) becomes value k + 1.
 * Contours off the grid are left out and counted; a contour not parallel to the grid's slices,
 * or every contour off the grid, is a ComboSegError naming the file.
 */
export function rasteriseRtstruct(rt: Rtstruct, grid: Geometry, o: { rois?: string[] } = {}): RasterisedRtstruct {
  const chosen = chooseRois(rt, o.rois);
  if (chosen.length > 65535) bad(rt.path, `${chosen.length} ROIs; at most 65535 fit a label map`, 'invalid-input');
  const toIndex = physicalToIndex(grid, rt.path);
  const n = voxelCount(grid);
  const data = chosen.length < 256 ? new Uint8Array(n) : new Uint16Array(n);
  const names: Record<number, string> = {};
  let offGrid = 0,
    total = 0;
  chosen.forEach((roi, k) => {
    names[k + 1] = roi.name;
    const bySlice = new Map<number, Float64Array[]>();
    roi.contours.forEach((xyz, c) => {
      total++;
      const poly = onGrid(xyz, grid, toIndex, { path: rt.path, what: `ROI '${roi.name}' contour ${c + 1}` });
      if (!poly) offGrid++;
      else bySlice.set(poly.slice, [...(bySlice.get(poly.slice) ?? []), poly.ij]);
    });
    for (const [slice, polys] of bySlice) fillSlice(data, grid, slice, polys, k + 1);
  });
  if (total && offGrid === total) {
    const where = `size [${grid.size}], origin [${grid.origin.map((v) => +v.toFixed(2))}]`;
    const why = `none of its ${total} contour(s) lies on the grid (${where}); another image's structure set?`;
    bad(rt.path, why, 'invalid-input');
  }
  const labels: Volume = { ...geometryOf(grid), data, pixelType: data instanceof Uint8Array ? 'uint8' : 'uint16' };
  return { labels, names, offGrid };
}
