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
import { z } from 'zod';
import { DiceReductionSchema, fromProbabilities, lossOptions, smooth } from './options.js';
import { log1mP, logP, probs, sigmoidInputs } from './inputs.js';
import { softDice } from './overlap.js';
import { batchMean } from '../engine/collective.js';

export const ComboVariantSchema = z
  .enum(['paper', 'keras-release'])
  .describe("'paper' (eq. 3) or 'keras-release' (the released Keras code's weighting)");
export type ComboVariant = z.infer<typeof ComboVariantSchema>;

/** Combo's options (eq. 3): α, β, the Dice's smoothing and reduction, the variant. */
export const ComboOptionsSchema = z
  .object({
    alpha: z.number().min(0).max(1).default(0.5).describe('weight of the cross-entropy term against the Dice term'),
    beta: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('weight of false negatives against false positives: < 0.5 penalises FP more'),
    smooth: smooth(1),
    dice: DiceReductionSchema.default('flattened'),
    variant: ComboVariantSchema.default('paper'),
    fromProbabilities,
  })
  .strict();
export type ComboOptions = z.infer<typeof ComboOptionsSchema>;

/**
 * The two halves of Combo's cross-entropy term, already weighted and averaged over
 * all N elements: `foreground` = −(1/N) Σ β·t·ln p (grows with false negatives),
 * `background` = −(1/N) Σ w_bg·(1−t)·ln(1−p) (grows with false positives), where
 * w_bg = 1 − β ('paper') or β(1 − β) ('keras-release').
 */
export function comboCrossEntropyTerms(
  logits: Tensor,
  target: Tensor,
  beta: number,
  variant: ComboVariant,
  fromProbabilities: boolean,
): { foreground: Tensor; background: Tensor } {
  const wBg = variant === 'paper' ? 1 - beta : beta * (1 - beta);
  return {
    foreground: batchMean(target.mul(logP(logits, fromProbabilities))).mul(-beta),
    background: batchMean(target.neg().add(1).mul(log1mP(logits, fromProbabilities))).mul(-wBg),
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
  const o = lossOptions('combo', ComboOptionsSchema, opts);
  return makeLoss('combo', o, (logits, target) => {
    const t = sigmoidInputs('combo', logits, target, o.fromProbabilities);
    const { foreground, background } = comboCrossEntropyTerms(logits, t, o.beta, o.variant, o.fromProbabilities);
    const dice = softDice(probs(logits, o.fromProbabilities), t, o.smooth, o.dice);
    return foreground
      .add(background)
      .mul(o.alpha)
      .sub(dice.mul(1 - o.alpha));
  });
}
