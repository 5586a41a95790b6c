// Soft overlap sums (Σpt, Σp, Σt) under one reduction vocabulary.
import type { Tensor } from '../engine/tensor.js';
import type { DiceReduction } from './options.js';
import { batchSum } from '../engine/collective.js';

/** Σ over everything ('flattened': a scalar) or all dims but channel dim 1 (per class: [C]), over the whole batch. */
export function overlapSum(t: Tensor, reduction: DiceReduction): Tensor {
  if (reduction === 'flattened') return batchSum(t.sum());
  return batchSum(t.sum([0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2)]));
}

/** Collapses per-class values as the reduction says (a scalar stays as it is). */
export function collapse(v: Tensor, reduction: DiceReduction): Tensor {
  if (reduction === 'per-class-mean') return v.mean();
  if (reduction === 'per-class-sum') return v.sum();
  return v;
}

/**
 * Soft Dice D = (2Σpt + S) / (Σp + Σt + S), or with Σp² + Σt² in the denominator
 * (V-Net's form) when `squared`. Flattened: one D over the whole tensor; per
 * class: the mean or the sum over channels of D_c.
 */
export function softDice(p: Tensor, t: Tensor, smooth: number, reduction: DiceReduction, squared = false): Tensor {
  const inter = overlapSum(p.mul(t), reduction);
  const sp = overlapSum(squared ? p.mul(p) : p, reduction);
  const st = overlapSum(squared ? t.mul(t) : t, reduction);
  return collapse(inter.mul(2).add(smooth).div(sp.add(st).add(smooth)), reduction);
}

/** The number of Dice terms D sums: 1, or C for 'per-class-sum' (so that a loss 'count − D' is 0 at best). */
export function diceTerms(t: Tensor, reduction: DiceReduction): number {
  return reduction === 'per-class-sum' ? t.shape[1] : 1;
}
