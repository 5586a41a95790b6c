// Soft Jaccard (IoU) loss:  1 − (Σpt + S) / (Σp + Σt − Σpt + S), over the flattened tensor
// (or per class, as Dice).
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkChoice, checkRange, DICE_REDUCTIONS, mergeOptions, type DiceReduction } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { collapse, diceTerms, overlapSum } from './overlap.js';

export interface JaccardOptions {
  /** Additive smoothing S. Default 1. */
  smooth: number;
  /** Default 'flattened'. */
  dice: DiceReduction;
  fromProbabilities: boolean;
}
export const JACCARD_DEFAULTS: Readonly<JaccardOptions> = Object.freeze({ smooth: 1, dice: 'flattened', fromProbabilities: false });

/** Soft Jaccard loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function jaccard(opts: Partial<JaccardOptions> = {}): Loss<JaccardOptions> {
  const o = mergeOptions('jaccard', JACCARD_DEFAULTS, opts);
  checkRange('jaccard', 'smooth', o.smooth, 0, Infinity);
  checkChoice('jaccard', 'dice', o.dice, DICE_REDUCTIONS);
  checkBoolean('jaccard', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('jaccard', o, (logits, target) => {
    const t = sigmoidInputs('jaccard', logits, target, o.fromProbabilities);
    const p = probs(logits, o.fromProbabilities);
    const inter = overlapSum(p.mul(t), o.dice);
    const union = overlapSum(p, o.dice).add(overlapSum(t, o.dice)).sub(inter);
    return collapse(inter.add(o.smooth).div(union.add(o.smooth)), o.dice).neg().add(diceTerms(t, o.dice));
  });
}
