// The difference view's codes: where a prediction agrees with the truth and
// where it errs, so that false positives and false negatives get their own colours.

export const DIFFERENCE_CODES = { agree: 1, falsePositive: 2, falseNegative: 3, wrongOrgan: 4 } as const;

/**
 * Per voxel: 0 background in both; 1 same organ; 2 predicted where the truth is background; 3 missed;
 * 4 a different organ.
 */
export function differenceMap(pred: ArrayLike<number>, truth: ArrayLike<number>): Uint8Array {
  if (pred.length !== truth.length) throw new RangeError(`differenceMap: ${pred.length} vs ${truth.length} voxels`);
  const out = new Uint8Array(pred.length);
  for (let i = 0; i < out.length; i++) {
    const p = pred[i],
      t = truth[i];
    out[i] = p === t ? (p ? 1 : 0) : !t ? 2 : !p ? 3 : 4;
  }
  return out;
}
