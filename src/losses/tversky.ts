// Tversky loss (Salehi et al. 2017):  1 − (TP + S) / (TP + a·FP + b·FN + S),
//   TP = Σ p·t,  FP = Σ p·(1−t),  FN = Σ (1−p)·t   (soft counts, flattened or per class).
// a = b = 0.5 is the soft Dice; a + b = 1 with b > a penalises false negatives more.
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkChoice, checkRange, DICE_REDUCTIONS, mergeOptions, type DiceReduction } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { collapse, diceTerms, overlapSum } from './overlap.js';

export interface TverskyOptions {
  /** Weight a of false positives, ≥ 0. Default 0.5. */
  alpha: number;
  /** Weight b of false negatives, ≥ 0. Default 0.5. */
  beta: number;
  /** Additive smoothing S. Default 1. */
  smooth: number;
  dice: DiceReduction;
  fromProbabilities: boolean;
}
export const TVERSKY_DEFAULTS: Readonly<TverskyOptions> = Object.freeze({ alpha: 0.5, beta: 0.5, smooth: 1, dice: 'flattened', fromProbabilities: false });

/** Tversky loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function tversky(opts: Partial<TverskyOptions> = {}): Loss<TverskyOptions> {
  const o = mergeOptions('tversky', TVERSKY_DEFAULTS, opts);
  checkRange('tversky', 'alpha', o.alpha, 0, Infinity);
  checkRange('tversky', 'beta', o.beta, 0, Infinity);
  checkRange('tversky', 'smooth', o.smooth, 0, Infinity);
  checkChoice('tversky', 'dice', o.dice, DICE_REDUCTIONS);
  checkBoolean('tversky', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('tversky', o, (logits, target) => {
    const t = sigmoidInputs('tversky', logits, target, o.fromProbabilities);
    const p = probs(logits, o.fromProbabilities);
    const tp = overlapSum(p.mul(t), o.dice);
    const fp = overlapSum(p, o.dice).sub(tp);
    const fn = overlapSum(t, o.dice).sub(tp);
    const index = tp.add(o.smooth).div(tp.add(fp.mul(o.alpha)).add(fn.mul(o.beta)).add(o.smooth));
    return collapse(index, o.dice).neg().add(diceTerms(t, o.dice));
  });
}
