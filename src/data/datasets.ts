// Data sets on disk: a Medical Segmentation Decathlon folder (dataset.json,
// imagesTr/, labelsTr/, imagesTs/) or a plain folder of image/label pairs
// matched by name; train/validation/test splits and k folds by seed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { Rng } from '../util/random.js';
import { imageExtension, readLabels, readVolume } from './io.js';
import { labelSetFrom, type LabelSet } from './labels.js';
import { sameGrid, type Volume } from './volume.js';

export interface DatasetCase {
  id: string;
  image: string;
  /** Absent for unlabelled (test) cases. */
  label?: string;
}

export interface Dataset {
  name: string;
  root: string;
  labels: LabelSet;
  training: DatasetCase[];
  test: DatasetCase[];
}

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

/** dataset.json's "labels": an object of label names (strings). */
function msdLabels(labels: unknown, jsonPath: string): Record<string, string> {
  if (!isObject(labels)) {
    throw new ComboSegError(`${jsonPath}: no "labels" map`, { code: 'bad-file', path: jsonPath });
  }
  const names: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') {
      throw new ComboSegError(`${jsonPath}: label ${k} needs a name (a string)`, { code: 'bad-file', path: jsonPath });
    }
    names[k] = v;
  }
  return names;
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

/** Reads an MSD folder; every referenced file must exist. */
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
  if (!Array.isArray(json.training)) {
    throw new ComboSegError(`${jsonPath}: no "training" list`, { code: 'bad-file', path: jsonPath });
  }
  const trainingList: unknown[] = json.training;
  const file = (rel: string, what: string) => {
    const p = join(root, rel);
    if (!existsSync(p)) {
      throw new ComboSegError(`${jsonPath}: ${what} ${rel} does not exist`, { code: 'not-found', path: p });
    }
    return p;
  };
  const idOf = (p: string) => stripExt(lastSegment(p));
  const training = trainingList.map((t, i) => {
    if (!isObject(t) || typeof t.image !== 'string' || typeof t.label !== 'string') {
      throw new ComboSegError(`${jsonPath}: training[${i}] needs "image" and "label"`, {
        code: 'bad-file',
        path: jsonPath,
      });
    }
    return {
      id: idOf(t.image),
      image: file(t.image, `training[${i}].image`),
      label: file(t.label, `training[${i}].label`),
    };
  });
  const test = msdTestImages(json.test, jsonPath).map((rel, i) => ({ id: idOf(rel), image: file(rel, `test[${i}]`) }));
  const name = typeof json.name === 'string' ? json.name : lastSegment(root);
  return { name, root, labels: labelSetFrom(labels), training, test };
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
 * (e.g. `STS_001/PET_image.nii.gz` and `STS_001/PET_mask.nii.gz`).
 */
export function readCaseFolders(dir: string, image: string, label: string, labels: Record<string, string>): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ComboSegError(`${dir}: not a folder`, { code: 'not-found', path: dir });
  }
  const training: DatasetCase[] = [];
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    if (!statSync(folder).isDirectory()) continue;
    const img = join(folder, image),
      lab = join(folder, label);
    if (!existsSync(img) && !existsSync(lab)) continue;
    if (!existsSync(img) || !existsSync(lab)) {
      throw new ComboSegError(`${folder}: needs both ${image} and ${label}`, { code: 'not-found', path: folder });
    }
    training.push({ id: name, image: resolve(img), label: resolve(lab) });
  }
  if (!training.length) {
    throw new ComboSegError(`${dir}: no case folder holds ${image} and ${label}`, { code: 'not-found', path: dir });
  }
  return { name: lastSegment(resolve(dir)), root: resolve(dir), labels: labelSetFrom(labels), training, test: [] };
}

/** Where a data set is: an MSD folder, two folders of pairs, or one folder per case. */
export type DataSpec =
  | { msd: string }
  | { images: string; labels: string; labelNames: Record<string, string> }
  | { cases: string; image: string; label: string; labelNames: Record<string, string> };

export function openDataset(spec: DataSpec): Dataset {
  if ('msd' in spec) return readMsd(spec.msd);
  if ('cases' in spec) return readCaseFolders(spec.cases, spec.image, spec.label, spec.labelNames);
  return readPairs(spec.images, spec.labels, spec.labelNames);
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

/** Reads a case's image and label map and checks they share a grid. */
export async function loadCase(c: DatasetCase): Promise<{ id: string; image: Volume; labels: Volume | null }> {
  const image = await readVolume(c.image);
  const labels = c.label ? await readLabels(c.label) : null;
  if (labels && !sameGrid(image, labels)) {
    const spacing = (v: Volume) => v.spacing.map((s) => +s.toFixed(3));
    throw new ComboSegError(
      `case '${c.id}': label ${c.label} (size [${labels.size}], spacing [${spacing(labels)}]) ` +
        `is not on the grid of image ${c.image} (size [${image.size}], spacing [${spacing(image)}])`,
      { code: 'invalid-input', path: c.label },
    );
  }
  return { id: c.id, image, labels };
}
