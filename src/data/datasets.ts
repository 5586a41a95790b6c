// Data sets on disk: a Medical Segmentation Decathlon folder (dataset.json,
// imagesTr/, labelsTr/, imagesTs/; also nnU-Net's layout), a plain folder of image/label
// pairs matched by name, or one folder per case; train/validation/test splits and k folds by seed.
//
// Several input channels (PET + CT, MRI contrasts) come as one 4-D file per case (MSD: the
// channels on the last axis), one file per channel (nnU-Net: `case_0000.nii.gz`,
// `case_0001.nii.gz`, ...), or a list of file names per case folder (`FLAIR.nii.gz`,
// `T1c.nii.gz`). `loadCase` gives one Volume with `channels` set (./volume.ts); every
// channel must be on one grid.
//
// A case's label may be a DICOM RTSTRUCT instead of a label image: its contours are rasterised onto
// the case image's grid (./rtstruct.ts), ROI k (file order) → value k + 1.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import { imageExtension, readLabels, readVolume } from './io.js';
import { labelSetFrom, type LabelSet } from './labels.js';
import { isRtstruct, rasteriseRtstruct, readRtstruct } from './rtstruct.js';
import { listDicomSeries } from './dicom.js';
import { gridDifference, sameGrid, stackChannels, type Volume } from './volume.js';

export interface DatasetCase {
  id: string;
  /** The image file: with one file per channel, the first (channelFiles holds them all). */
  image: string;
  /** One file per channel, in channel order, when the case has more than one file; else absent. */
  channelFiles?: string[];
  /** Absent for unlabelled (test) cases. */
  label?: string;
  /** What the (first) image's values measure when the file cannot say (NIfTI PET in SUV): display only. */
  imageUnits?: 'SUV';
}

export interface Dataset {
  name: string;
  root: string;
  labels: LabelSet;
  training: DatasetCase[];
  test: DatasetCase[];
  /**
   * Names of the input channels, in order, when the data set declares them (dataset.json's
   * "modality" or "channel_names"; a case folder's image file names). Absent: one channel, or
   * as many as the files hold (4-D images).
   */
  channels?: string[];
}

/** The image files of a case, one per channel (or one file holding every channel). */
export const caseImageFiles = (c: DatasetCase): string[] => c.channelFiles ?? [c.image];

const stripExt = (f: string) => f.slice(0, f.length - (imageExtension(f)?.length ?? 0));
/** The last `/`-separated part of a path (a folder's or file's own name). */
const lastSegment = (p: string) => p.split('/').pop() ?? '';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** dataset.json as read: its fields unchecked (anything but an object reads as `{}`). */
function readMsdJson(jsonPath: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new ComboSegError(`${jsonPath}: not valid JSON (${(e as Error).message})`, {
      code: 'bad-file',
      path: jsonPath,
      cause: e,
    });
  }
  return isObject(parsed) ? parsed : {};
}

/**
 * dataset.json's "labels": MSD's {"0": "background", "1": "spleen"} (value → name), or nnU-Net
 * v2's {"background": 0, "spleen": 1} (name → value); given as value → name.
 */
function msdLabels(labels: unknown, jsonPath: string): Record<string, string> {
  if (!isObject(labels)) {
    throw new ComboSegError(`${jsonPath}: no "labels" map`, { code: 'bad-file', path: jsonPath });
  }
  const entries = Object.entries(labels);
  if (entries.length && entries.every(([, v]) => typeof v === 'number')) {
    return Object.fromEntries(entries.map(([k, v]) => [String(v), k]));
  }
  const names: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string') {
      const why = `label ${k} needs a name (a string), or every label a value (nnU-Net v2, no regions)`;
      throw new ComboSegError(`${jsonPath}: ${why}`, { code: 'bad-file', path: jsonPath });
    }
    names[k] = v;
  }
  return names;
}

/** The input channel names of dataset.json ("modality" of MSD, "channel_names" of nnU-Net), by index; or undefined. */
function msdChannels(json: Record<string, unknown>, jsonPath: string): string[] | undefined {
  const field = json.channel_names !== undefined ? 'channel_names' : 'modality';
  const given = json[field];
  if (given === undefined || given === null) return undefined;
  const entries = isObject(given) ? Object.entries(given) : [];
  const names = entries.map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
  if (!names.length || names.some(([k, v], i) => k !== i || typeof v !== 'string')) {
    const why = `"${field}" must map channel indices 0, 1, ... to names, e.g. {"0": "T2", "1": "ADC"}`;
    throw new ComboSegError(`${jsonPath}: ${why}`, { code: 'bad-file', path: jsonPath });
  }
  return names.map(([, v]) => String(v));
}

/** nnU-Net's file of channel `k` for an image path: `imagesTr/case.nii.gz` → `imagesTr/case_000k.nii.gz`. */
export function channelFileName(image: string, k: number): string {
  const ext = imageExtension(image) ?? '';
  return `${image.slice(0, image.length - ext.length)}_${String(k).padStart(4, '0')}${ext}`;
}

/** dataset.json's "test": file names, or objects with "image". */
function msdTestImages(test: unknown, jsonPath: string): string[] {
  if (test === undefined || test === null) return [];
  if (!Array.isArray(test)) {
    throw new ComboSegError(`${jsonPath}: "test" must be a list`, { code: 'bad-file', path: jsonPath });
  }
  const list: unknown[] = test;
  return list.map((t, i) => {
    if (typeof t === 'string') return t;
    if (isObject(t) && typeof t.image === 'string') return t.image;
    throw new ComboSegError(`${jsonPath}: test[${i}] needs "image"`, { code: 'bad-file', path: jsonPath });
  });
}

/** Training (image, label) and test image paths relative to the root, as dataset.json lists them. */
interface MsdEntries {
  training: { image: string; label: string }[];
  test: string[];
}

/** dataset.json's "training" and "test" lists (MSD). */
function msdEntries(json: Record<string, unknown>, jsonPath: string): MsdEntries {
  if (!Array.isArray(json.training)) {
    throw new ComboSegError(`${jsonPath}: no "training" list`, { code: 'bad-file', path: jsonPath });
  }
  const trainingList: unknown[] = json.training;
  const training = trainingList.map((t, i) => {
    if (!isObject(t) || typeof t.image !== 'string' || typeof t.label !== 'string') {
      throw new ComboSegError(`${jsonPath}: training[${i}] needs "image" and "label"`, {
        code: 'bad-file',
        path: jsonPath,
      });
    }
    return { image: t.image, label: t.label };
  });
  return { training, test: msdTestImages(json.test, jsonPath) };
}

/**
 * nnU-Net v2 lists no cases: they are the `ID_0000<file_ending>` files of imagesTr (labelsTr/ID<file_ending>)
 * and imagesTs. Each image is named `imagesTr/ID<file_ending>`; its channel files are found from that.
 */
function nnunetEntries(root: string, json: Record<string, unknown>): MsdEntries {
  const ending = typeof json.file_ending === 'string' ? json.file_ending : '.nii.gz';
  const first = `_0000${ending}`;
  const ids = (folder: string) =>
    existsSync(join(root, folder))
      ? readdirSync(join(root, folder))
          .filter((f) => f.endsWith(first) && !f.startsWith('.'))
          .map((f) => f.slice(0, f.length - first.length))
          .sort()
      : [];
  return {
    training: ids('imagesTr').map((id) => ({ image: `imagesTr/${id}${ending}`, label: `labelsTr/${id}${ending}` })),
    test: ids('imagesTs').map((id) => `imagesTs/${id}${ending}`),
  };
}

/**
 * The files of an image as dataset.json names it: the file itself (one channel, or a 4-D file
 * holding them all), else its channel files `NAME_0000.ext`, `NAME_0001.ext`, ... (nnU-Net),
 * `channels` of them.
 */
function imageFiles(root: string, rel: string, channels: number, what: string, jsonPath: string) {
  const p = join(root, rel);
  if (existsSync(p)) return { image: p };
  const files = Array.from({ length: channels }, (_, k) => channelFileName(p, k));
  const missing = files.filter((f) => !existsSync(f));
  if (!missing.length) return channels > 1 ? { image: files[0], channelFiles: files } : { image: files[0] };
  const why =
    missing.length === files.length
      ? `${what} ${rel} does not exist (nor ${lastSegment(files[0])})`
      : `${what} ${rel}: channel file ${lastSegment(missing[0])} is missing (${channels} channels)`;
  throw new ComboSegError(`${jsonPath}: ${why}`, { code: 'not-found', path: missing[0] });
}

/**
 * Reads an MSD folder (dataset.json with "training" and "test" lists), or nnU-Net v2's (no lists:
 * the files of imagesTr, labelsTr, imagesTs); every referenced file must exist. Several channels:
 * "modality" (MSD) or "channel_names" (nnU-Net) name them, in 4-D files or one file per channel.
 */
export function readMsd(dir: string): Dataset {
  const root = resolve(dir);
  const jsonPath = join(root, 'dataset.json');
  if (!existsSync(jsonPath)) {
    throw new ComboSegError(`${dir}: no dataset.json (not a Medical Segmentation Decathlon folder)`, {
      code: 'not-found',
      path: jsonPath,
    });
  }
  const json = readMsdJson(jsonPath);
  const labels = msdLabels(json.labels, jsonPath);
  const channels = msdChannels(json, jsonPath);
  const nnunet = !Array.isArray(json.training) && (json.channel_names !== undefined || json.file_ending !== undefined);
  const entries = nnunet ? nnunetEntries(root, json) : msdEntries(json, jsonPath);
  const C = channels?.length ?? 1;
  const label = (rel: string, what: string) => {
    const p = join(root, rel);
    if (!existsSync(p)) {
      throw new ComboSegError(`${jsonPath}: ${what} ${rel} does not exist`, { code: 'not-found', path: p });
    }
    return p;
  };
  const idOf = (p: string) => stripExt(lastSegment(p));
  const training = entries.training.map((t, i) => ({
    id: idOf(t.image),
    ...imageFiles(root, t.image, C, `training[${i}].image`, jsonPath),
    label: label(t.label, `training[${i}].label`),
  }));
  const test = entries.test.map((rel, i) => ({ id: idOf(rel), ...imageFiles(root, rel, C, `test[${i}]`, jsonPath) }));
  const name = typeof json.name === 'string' ? json.name : lastSegment(root);
  return { name, root, labels: labelSetFrom(labels), training, test, ...(channels ? { channels } : {}) };
}

/**
 * Pairs images and labels in two folders by name: `case1.nii.gz` with
 * `case1.nii.gz`, `case1_seg.nii.gz`, `case1_label…`, `case1_mask…` (any image format).
 */
export function readPairs(imagesDir: string, labelsDir: string, labels: Record<string, string>): Dataset {
  const list = (d: string) => {
    if (!existsSync(d) || !statSync(d).isDirectory()) {
      throw new ComboSegError(`${d}: not a folder`, { code: 'not-found', path: d });
    }
    return readdirSync(d)
      .filter((f) => imageExtension(f) && !f.startsWith('.'))
      .sort();
  };
  const images = list(imagesDir),
    labelFiles = list(labelsDir);
  const key = (f: string) => stripExt(f).replace(/([_-](seg|segmentation|label|labels|mask|gt))+$/i, '');
  const byKey = new Map(labelFiles.map((f) => [key(f), f]));
  const training: DatasetCase[] = [];
  const unmatched: string[] = [];
  for (const f of images) {
    const l = byKey.get(key(f));
    if (l) training.push({ id: key(f), image: resolve(imagesDir, f), label: resolve(labelsDir, l) });
    else unmatched.push(f);
  }
  if (!training.length) {
    throw new ComboSegError(`no image in ${imagesDir} has a label in ${labelsDir} with a matching name`, {
      code: 'not-found',
      path: labelsDir,
    });
  }
  if (unmatched.length) {
    throw new ComboSegError(
      `${imagesDir}: no label for ${unmatched.slice(0, 5).join(', ')}${unmatched.length > 5 ? ', ...' : ''}`,
      { code: 'not-found', path: labelsDir },
    );
  }
  return {
    name: lastSegment(resolve(imagesDir)),
    root: resolve(imagesDir),
    labels: labelSetFrom(labels),
    training,
    test: [],
  };
}

/**
 * One folder per case, each holding an image and a label map under fixed names
 * (e.g. `STS_001/PET_image.nii.gz` and `STS_001/PET_mask.nii.gz`). `image` may list one file
 * per channel (`["FLAIR.nii.gz", "T1c.nii.gz"]`): each case folder must hold them all. The label
 * may be a DICOM RTSTRUCT (`RS.dcm`): `loadCase` rasterises it onto the case image's grid.
 */
export function readCaseFolders(
  dir: string,
  image: string | string[],
  label: string,
  labels: Record<string, string>,
): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ComboSegError(`${dir}: not a folder`, { code: 'not-found', path: dir });
  }
  const images = typeof image === 'string' ? [image] : image;
  if (!images.length) throw new ComboSegError(`${dir}: no image file names given`, { code: 'invalid-input' });
  const names = [...images, label].join(', ');
  const training: DatasetCase[] = [];
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    if (!statSync(folder).isDirectory()) continue;
    const files = [...images, label].map((f) => join(folder, f));
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length === files.length) continue;
    if (missing.length) {
      const why = `needs ${names}; ${missing.map(lastSegment).join(', ')} missing`;
      throw new ComboSegError(`${folder}: ${why}`, { code: 'not-found', path: missing[0] });
    }
    const img = files.slice(0, -1).map((f) => resolve(f));
    const channelFiles = img.length > 1 ? { channelFiles: img } : {};
    training.push({ id: name, image: img[0], ...channelFiles, label: resolve(join(folder, label)) });
  }
  if (!training.length) {
    throw new ComboSegError(`${dir}: no case folder holds ${names}`, { code: 'not-found', path: dir });
  }
  const channels = images.length > 1 ? { channels: [...images] } : {};
  return {
    name: lastSegment(resolve(dir)),
    root: resolve(dir),
    labels: labelSetFrom(labels),
    training,
    test: [],
    ...channels,
  };
}

/** Where a data set is: an MSD folder, two folders of pairs, or one folder per case. */
export type DataSpec = (
  | { msd: string }
  | { images: string; labels: string; labelNames: Record<string, string> }
  | { cases: string; image: string | string[]; label: string; labelNames: Record<string, string> }
) & { imageUnits?: 'SUV' };

export function openDataset(spec: DataSpec): Dataset {
  const ds =
    'msd' in spec
      ? readMsd(spec.msd)
      : 'cases' in spec
        ? readCaseFolders(spec.cases, spec.image, spec.label, spec.labelNames)
        : readPairs(spec.images, spec.labels, spec.labelNames);
  if (!spec.imageUnits) return ds;
  const withUnits = (c: DatasetCase): DatasetCase => ({ ...c, imageUnits: spec.imageUnits });
  return { ...ds, training: ds.training.map(withUnits), test: ds.test.map(withUnits) };
}

function shuffle<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  const rng = new Rng(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Train / validation / test split by fractions, shuffled by seed; every part gets at least one case when possible. */
export function split<T>(
  cases: T[],
  o: { validation: number; test?: number; seed: number },
): { train: T[]; validation: T[]; test: T[] } {
  const test = o.test ?? 0;
  if (!(o.validation >= 0 && test >= 0 && o.validation + test < 1)) {
    throw new ComboSegError(`split: fractions must be ≥ 0 and sum below 1 (validation ${o.validation}, test ${test})`, {
      code: 'invalid-option',
      path: 'split',
    });
  }
  const a = shuffle(cases, o.seed);
  const nTest = test > 0 ? Math.max(1, Math.round(test * a.length)) : 0;
  const nVal = o.validation > 0 ? Math.max(1, Math.round(o.validation * a.length)) : 0;
  if (nTest + nVal >= a.length) {
    throw new ComboSegError(`split: ${a.length} cases are too few for validation ${o.validation} and test ${test}`, {
      code: 'invalid-input',
      path: 'split',
    });
  }
  return { test: a.slice(0, nTest), validation: a.slice(nTest, nTest + nVal), train: a.slice(nTest + nVal) };
}

/** Fold `fold` of k (0-based): that fold validates, the others train. Folds partition the shuffled cases. */
export function kFold<T>(cases: T[], k: number, fold: number, seed: number): { train: T[]; validation: T[] } {
  if (!Number.isInteger(k) || k < 2 || k > cases.length) {
    throw new ComboSegError(`kFold: k must be an integer in [2, ${cases.length}], got ${k}`, {
      code: 'invalid-option',
      path: 'folds.k',
    });
  }
  if (!Number.isInteger(fold) || fold < 0 || fold >= k) {
    throw new ComboSegError(`kFold: fold must be in [0, ${k - 1}], got ${fold}`, {
      code: 'invalid-option',
      path: 'folds.fold',
    });
  }
  const a = shuffle(cases, seed);
  const validation = a.filter((_, i) => i % k === fold);
  return { validation, train: a.filter((_, i) => i % k !== fold) };
}

/** A case's channels read and stacked into one volume (see ./volume.ts); all must share one grid. */
export async function loadCaseImage(c: DatasetCase, series?: string): Promise<Volume> {
  const files = caseImageFiles(c);
  const channels: Volume[] = [];
  // `series`: the one to read from a DICOM folder holding several.
  for (const f of files) channels.push(await readVolume(f, series === undefined ? {} : { series }));
  try {
    const image = stackChannels(channels, files);
    return c.imageUnits && !image.units ? { ...image, units: c.imageUnits } : image;
  } catch (e) {
    throw e instanceof ComboSegError ? e.rewrap(`case '${c.id}': ${e.message}`) : e;
  }
}

/**
 * A case's label file as a label map on the image's grid. A DICOM RTSTRUCT is rasterised onto the
 * image's grid (./rtstruct.ts): ROI k of the file (file order) becomes value k + 1, so the data set's
 * label names (labelNames of the config) must follow that order; the ROI names are not used.
 * Contours off the grid are left out, with a warning.
 */
async function readCaseLabels(c: DatasetCase, label: string, image: Volume): Promise<Volume> {
  if (!(await isRtstruct(label))) return readLabels(label);
  const rt = await readRtstruct(label);
  checkReferencedSeries(c, rt.seriesInstanceUids, label);
  const { labels, offGrid } = rasteriseRtstruct(rt, image);
  if (offGrid) {
    const what = `${offGrid} contour(s) of ${label} lie off the grid of ${c.image}`;
    console.warn(`warning: case '${c.id}': ${what} and were left out`);
  }
  return labels;
}

/**
 * An RTSTRUCT drawn on another series than the case's DICOM image (when the image is a DICOM folder and
 * the structure set names its series) is refused: its contours would land on the wrong anatomy.
 */
function checkReferencedSeries(c: DatasetCase, referenced: string[], label: string): void {
  if (!referenced.length || !existsSync(c.image) || !statSync(c.image).isDirectory()) return;
  const image = listDicomSeries(c.image).map((s) => s.uid);
  if (image.some((uid) => referenced.includes(uid))) return;
  throw new ComboSegError(
    `case '${c.id}': ${label} was drawn on series ${referenced.join(', ')}, not on the image's series ` +
      `${image.join(', ')} (${c.image})`,
    { code: 'invalid-input', path: label },
  );
}

/**
 * Reads a case's image (every channel, as one volume with `channels` set when there are several)
 * and label map (a label image, or a DICOM RTSTRUCT rasterised onto the image's grid), and checks
 * they share a grid.
 */
export async function loadCase(c: DatasetCase): Promise<{ id: string; image: Volume; labels: Volume | null }> {
  const image = await loadCaseImage(c);
  const labels = c.label ? await readCaseLabels(c, c.label, image) : null;
  if (labels && !sameGrid(image, labels)) {
    throw new ComboSegError(
      `case '${c.id}': label ${c.label} is not on the grid of image ${c.image} (${gridDifference(labels, image)})`,
      { code: 'invalid-input', path: c.label },
    );
  }
  return { id: c.id, image, labels };
}
