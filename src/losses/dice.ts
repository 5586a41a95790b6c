// Soft Dice loss (Milletari et al. 2016, V-Net), ../shared/SPEC.md §2:
//   1 − (2·Σpt + S) / (Σp + Σt + S),  or with Σp² + Σt² in the denominator (squared: V-Net's form).
// Per class: 'per-class-mean' gives 1 − mean_c D_c, 'per-class-sum' gives Σ_c (1 − D_c).
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { DiceReductionSchema, fromProbabilities, layout, lossOptions, smooth } from './options.js';
import { overlapInputs } from './inputs.js';
import { diceTerms, softDice } from './overlap.js';

export const DiceOptionsSchema = z
  .object({
    smooth: smooth(1),
    squared: z.boolean().default(false).describe("Σp² + Σt² in the denominator (V-Net's form)"),
    dice: DiceReductionSchema.default('flattened'),
    fromProbabilities,
    layout,
  })
  .strict();
export type DiceOptions = z.infer<typeof DiceOptionsSchema>;

/** Soft Dice loss on sigmoid outputs. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function dice(opts: Partial<DiceOptions> = {}): Loss<DiceOptions> {
  const o = lossOptions('dice', DiceOptionsSchema, opts);
  return makeLoss('dice', o, (logits, target) => {
    const { p, t } = overlapInputs('dice', logits, target, o.layout, o.fromProbabilities);
    return softDice(p, t, o.smooth, o.dice, o.squared).neg().add(diceTerms(t, o.dice));
  });
}
