// Soft Jaccard (IoU) loss:  1 − (Σpt + S) / (Σp + Σt − Σpt + S), over the flattened tensor
// (or per class, as Dice).
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { DiceReductionSchema, fromProbabilities, layout, lossOptions, smooth } from './options.js';
import { overlapInputs } from './inputs.js';
import { collapse, diceTerms, overlapSum } from './overlap.js';

export const JaccardOptionsSchema = z
  .object({ smooth: smooth(1), dice: DiceReductionSchema.default('flattened'), fromProbabilities, layout })
  .strict();
export type JaccardOptions = z.infer<typeof JaccardOptionsSchema>;

/** Soft Jaccard loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function jaccard(opts: Partial<JaccardOptions> = {}): Loss<JaccardOptions> {
  const o = lossOptions('jaccard', JaccardOptionsSchema, opts);
  return makeLoss('jaccard', o, (logits, target) => {
    const { p, t } = overlapInputs('jaccard', logits, target, o.layout, o.fromProbabilities);
    const inter = overlapSum(p.mul(t), o.dice);
    const union = overlapSum(p, o.dice).add(overlapSum(t, o.dice)).sub(inter);
    return collapse(inter.add(o.smooth).div(union.add(o.smooth)), o.dice)
      .neg()
      .add(diceTerms(t, o.dice));
  });
}
