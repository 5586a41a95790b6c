// Confusion counts and the overlap metrics built on them.
//
// Empty masks have defined results, never NaN:
//   both empty        → Dice 1, Jaccard 1, FPR/FDR/FNR 0, distances 0;
//   one empty         → Dice 0, Jaccard 0, distances null (counted as missing in summaries);
//   FDR with no predicted voxel and FNR with no true voxel are 0 (nothing to be wrong about);
//   FPR with no true negative voxel (the organ fills the volume) is 0.
import { surfaceDistances } from './surface.js';

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface OrganMetrics extends Confusion {
  dice: number;
  jaccard: number;
  /** FP / (FP + TN) */
  fpr: number;
  /** FP / (FP + TP) */
  fdr: number;
  /** FN / (FN + TP) */
  fnr: number;
  /** Hausdorff distance, mm; null when exactly one mask is empty. */
  hd: number | null;
  hd95: number | null;
  /** Average symmetric surface distance, mm. */
  assd: number | null;
}

export const METRIC_NAMES = ['dice', 'jaccard', 'fpr', 'fdr', 'fnr', 'hd', 'hd95', 'assd'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Counts for one label value: pred == label vs truth == label. */
export function confusion(pred: ArrayLike<number>, truth: ArrayLike<number>, label: number): Confusion {
  let tp = 0,
    fp = 0,
    fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] === label,
      t = truth[i] === label;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn, tn: pred.length - tp - fp - fn };
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

/** Every metric for one organ (label value) of one case. */
export function organMetrics(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  label: number,
  size: [number, number, number],
  spacing: [number, number, number],
): OrganMetrics {
  const c = confusion(pred, truth, label);
  const predN = c.tp + c.fp,
    truthN = c.tp + c.fn;
  const bothEmpty = predN === 0 && truthN === 0;
  let distances: { hd: number | null; hd95: number | null; assd: number | null } = { hd: null, hd95: null, assd: null };
  if (bothEmpty) distances = { hd: 0, hd95: 0, assd: 0 };
  else if (predN > 0 && truthN > 0) {
    const a = new Uint8Array(pred.length),
      b = new Uint8Array(pred.length);
    for (let i = 0; i < pred.length; i++) {
      a[i] = pred[i] === label ? 1 : 0;
      b[i] = truth[i] === label ? 1 : 0;
    }
    distances = surfaceDistances(a, b, size, spacing);
  }
  return {
    ...c,
    dice: bothEmpty ? 1 : ratio(2 * c.tp, predN + truthN),
    jaccard: bothEmpty ? 1 : ratio(c.tp, c.tp + c.fp + c.fn),
    fpr: ratio(c.fp, c.fp + c.tn),
    fdr: ratio(c.fp, c.fp + c.tp),
    fnr: ratio(c.fn, c.fn + c.tp),
    ...distances,
  };
}
