// Tversky loss (Salehi et al. 2017):  1 − (TP + S) / (TP + a·FP + b·FN + S),
//   TP = Σ p·t,  FP = Σ p·(1−t),  FN = Σ (1−p)·t   (soft counts, flattened or per class).
// a = b = 0.5 is the soft Dice; a + b = 1 with b > a penalises false negatives more.
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { DiceReductionSchema, fromProbabilities, layout, lossOptions, smooth } from './options.js';
import { overlapInputs } from './inputs.js';
import { collapse, diceTerms, overlapSum } from './overlap.js';

export const TverskyOptionsSchema = z
  .object({
    alpha: z.number().min(0).default(0.5).describe('weight a of false positives'),
    beta: z.number().min(0).default(0.5).describe('weight b of false negatives'),
    smooth: smooth(1),
    dice: DiceReductionSchema.default('flattened'),
    fromProbabilities,
    layout,
  })
  .strict();
export type TverskyOptions = z.infer<typeof TverskyOptionsSchema>;

/** Tversky loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function tversky(opts: Partial<TverskyOptions> = {}): Loss<TverskyOptions> {
  const o = lossOptions('tversky', TverskyOptionsSchema, opts);
  return makeLoss('tversky', o, (logits, target) => {
    const { p, t } = overlapInputs('tversky', logits, target, o.layout, o.fromProbabilities);
    const tp = overlapSum(p.mul(t), o.dice);
    const fp = overlapSum(p, o.dice).sub(tp);
    const fn = overlapSum(t, o.dice).sub(tp);
    const index = tp.add(o.smooth).div(tp.add(fp.mul(o.alpha)).add(fn.mul(o.beta)).add(o.smooth));
    return collapse(index, o.dice).neg().add(diceTerms(t, o.dice));
  });
}
