// The pictures of one segmented case in a report: three orthogonal planes through the centre of
// mass of its hardest organ (the lowest Dice), and three through the centre of mass of its errors.
import {
  SLICE_AXES,
  centreOfMass,
  displayWindow,
  errorOverlay,
  sliceThrough,
  type Picture,
  type SliceAxis,
} from '../data/overlay.js';
import { differenceLegend, voxelOutcome, type LegendEntry } from '../data/difference.js';
import type { Vec3, Volume } from '../data/volume.js';
import type { LabelSet } from '../data/labels.js';

export interface CaseView {
  axis: SliceAxis;
  index: number;
  picture: Picture;
}
export interface CaseViewRow {
  /** What the planes go through, e.g. "tumour (centre of mass)" or "errors (centre of mass)". */
  title: string;
  centre: Vec3;
  views: CaseView[];
}

/** The organ whose truth the first row shows: the lowest Dice among organs present in the truth. */
function hardestOrgan(truth: Volume, labels: LabelSet, dice: Record<string, number>): number | null {
  const present = new Set<number>();
  for (let i = 0; i < truth.data.length; i++) if (truth.data[i] > 0) present.add(truth.data[i]);
  const organs = labels.values.filter((v) => present.has(v));
  if (!organs.length) return null;
  const score = (v: number) => dice[labels.names[labels.values.indexOf(v)]] ?? 1;
  return organs.reduce((a, b) => (score(b) < score(a) ? b : a));
}

/** Rows of three planes (axial, coronal, sagittal) of a prediction against its truth. */
export function caseViews(
  image: Volume,
  pred: Volume,
  truth: Volume,
  labels: LabelSet,
  dice: Record<string, number>,
): CaseViewRow[] {
  const window = displayWindow(image);
  const row = (title: string, centre: Vec3): CaseViewRow => ({
    title,
    centre,
    views: SLICE_AXES.map((axis) => {
      const index = sliceThrough(axis, centre);
      const picture = errorOverlay(image.data, pred.data, truth.data, image.size, image.spacing, axis, index, {
        window,
      });
      return { axis, index, picture };
    }),
  });
  const rows: CaseViewRow[] = [];
  const organ = hardestOrgan(truth, labels, dice);
  const organCentre = organ === null ? null : centreOfMass(image.size, (i) => truth.data[i] === organ);
  if (organ !== null && organCentre) {
    rows.push(row(`${labels.names[labels.values.indexOf(organ)]} (centre of mass of the truth)`, organCentre));
  }
  const isError = (i: number) => {
    const o = voxelOutcome(pred.data[i], truth.data[i]);
    return o !== 'agreement' && o !== 'background';
  };
  const errorCentre = centreOfMass(image.size, isError);
  if (errorCentre) rows.push(row('errors (centre of mass)', errorCentre));
  if (!rows.length) {
    const mid: Vec3 = [image.size[0] >> 1, image.size[1] >> 1, image.size[2] >> 1];
    rows.push(row('the middle of the volume (no organ, no error)', mid));
  }
  return rows;
}

/** The legend of the pictures: each organ's agreement in its colour, then the errors. */
export function caseViewLegend(labels: LabelSet): LegendEntry[] {
  return differenceLegend(labels.values.map((value, k) => ({ value, name: labels.names[k] })));
}
