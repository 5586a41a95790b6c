// Soft Dice loss (Milletari et al. 2016, V-Net), ../shared/SPEC.md §2:
//   1 − (2·Σpt + S) / (Σp + Σt + S),  or with Σp² + Σt² in the denominator (squared: V-Net's form).
// Per class: 'per-class-mean' gives 1 − mean_c D_c, 'per-class-sum' gives Σ_c (1 − D_c).
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkChoice, checkRange, DICE_REDUCTIONS, mergeOptions, type DiceReduction } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { diceTerms, softDice } from './overlap.js';

export interface DiceOptions {
  /** Additive smoothing S. Default 1. */
  smooth: number;
  /** Squared terms in the denominator (V-Net). Default false. */
  squared: boolean;
  /** Default 'flattened'. */
  dice: DiceReduction;
  fromProbabilities: boolean;
}

export const DICE_DEFAULTS: Readonly<DiceOptions> = Object.freeze({ smooth: 1, squared: false, dice: 'flattened', fromProbabilities: false });

/** Soft Dice loss on sigmoid outputs. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function dice(opts: Partial<DiceOptions> = {}): Loss<DiceOptions> {
  const o = mergeOptions('dice', DICE_DEFAULTS, opts);
  checkRange('dice', 'smooth', o.smooth, 0, Infinity);
  checkBoolean('dice', 'squared', o.squared);
  checkChoice('dice', 'dice', o.dice, DICE_REDUCTIONS);
  checkBoolean('dice', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('dice', o, (logits, target) => {
    const t = sigmoidInputs('dice', logits, target, o.fromProbabilities);
    return softDice(probs(logits, o.fromProbabilities), t, o.smooth, o.dice, o.squared).neg().add(diceTerms(t, o.dice));
  });
}
