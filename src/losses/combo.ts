// Combo loss, eq. 3 of Taghanaki et al. (arXiv:1805.02798), ../shared/SPEC.md §1:
//   L = α · ( −(1/N) Σ_i [ β·t_i·ln p_i + (1−β)·(1−t_i)·ln(1−p_i) ] ) − (1−α) · Dice
//   Dice = (2·Σ p_i t_i + S) / (Σ p_i + Σ t_i + S)
// over the flattened multi-label tensor (sigmoid outputs, one channel per organ).
// The loss can be negative (it subtracts the Dice); it is reported as it is.
//
// variant 'keras-release': the public Keras code that came with the paper
// multiplies the whole cross-entropy bracket by β as well, so the background term
// is weighted β(1−β) instead of (1−β):  −(1/N) Σ [ β·t·ln p + β(1−β)·(1−t)·ln(1−p) ].
// At β = 0.5 that halves the foreground weight relative to the paper and
// quarters the background one; it is offered only to reproduce that code.
import type { Tensor } from '../engine/tensor.js';
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkChoice, checkRange, DICE_REDUCTIONS, mergeOptions, type DiceReduction } from './options.js';
import { log1mP, logP, probs, sigmoidInputs } from './inputs.js';
import { softDice } from './overlap.js';

export type ComboVariant = 'paper' | 'keras-release';

export interface ComboOptions {
  /** Weight of the cross-entropy term against the Dice term, in [0, 1]. Default 0.5. */
  alpha: number;
  /** Weight of false negatives against false positives, in [0, 1]: < 0.5 penalises FP more. Default 0.5. */
  beta: number;
  /** Additive smoothing S of the Dice term (numerator and denominator). Default 1. */
  smooth: number;
  /** Dice over the flattened tensor (default, the paper), or per class, averaged or summed. */
  dice: DiceReduction;
  /** 'paper' (eq. 3, default) or 'keras-release' (the released Keras code's weighting). */
  variant: ComboVariant;
  /** Inputs are probabilities (clamped to [1e-7, 1 − 1e-7]) instead of logits. Default false. */
  fromProbabilities: boolean;
}

export const COMBO_DEFAULTS: Readonly<ComboOptions> = Object.freeze({
  alpha: 0.5, beta: 0.5, smooth: 1, dice: 'flattened', variant: 'paper', fromProbabilities: false,
});

/**
 * The two halves of Combo's cross-entropy term, already weighted and averaged over
 * all N elements: `foreground` = −(1/N) Σ β·t·ln p (grows with false negatives),
 * `background` = −(1/N) Σ w_bg·(1−t)·ln(1−p) (grows with false positives), where
 * w_bg = 1 − β ('paper') or β(1 − β) ('keras-release').
 */
export function comboCrossEntropyTerms(
  logits: Tensor, target: Tensor, beta: number, variant: ComboVariant, fromProbabilities: boolean,
): { foreground: Tensor; background: Tensor } {
  const wBg = variant === 'paper' ? 1 - beta : beta * (1 - beta);
  return {
    foreground: target.mul(logP(logits, fromProbabilities)).mean().mul(-beta),
    background: target.neg().add(1).mul(log1mP(logits, fromProbabilities)).mean().mul(-wBg),
  };
}

/**
 * Combo loss. logits, target: [B, K, D, H, W] (target one-hot {0, 1}, no background channel).
 * Returns a scalar. Throws a ComboSegError on a shape mismatch, a non-binary target,
 * NaN/Inf inputs, or options out of range.
 *
 * @example
 * const loss = losses.create('combo', { alpha: 0.5, beta: 0.4 });
 * const value = loss(logits, target); // scalar Tensor
 */
export function combo(opts: Partial<ComboOptions> = {}): Loss<ComboOptions> {
  const o = mergeOptions('combo', COMBO_DEFAULTS, opts);
  checkRange('combo', 'alpha', o.alpha, 0, 1);
  checkRange('combo', 'beta', o.beta, 0, 1);
  checkRange('combo', 'smooth', o.smooth, 0, Infinity);
  checkChoice('combo', 'dice', o.dice, DICE_REDUCTIONS);
  checkChoice('combo', 'variant', o.variant, ['paper', 'keras-release'] as const);
  checkBoolean('combo', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('combo', o, (logits, target) => {
    const t = sigmoidInputs('combo', logits, target, o.fromProbabilities);
    const { foreground, background } = comboCrossEntropyTerms(logits, t, o.beta, o.variant, o.fromProbabilities);
    const dice = softDice(probs(logits, o.fromProbabilities), t, o.smooth, o.dice);
    return foreground.add(background).mul(o.alpha).sub(dice.mul(1 - o.alpha));
  });
}
