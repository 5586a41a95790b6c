// Dice + plain (unweighted) cross entropy, on sigmoid outputs (SPEC §2 "DCE"):
//   (1 − Dice) + BCE, with Dice over the flattened tensor.
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions, smooth } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { binaryCrossEntropy } from './bce.js';
import { softDice } from './overlap.js';

export const DceOptionsSchema = z.object({ smooth: smooth(1), fromProbabilities }).strict();
export type DceOptions = z.infer<typeof DceOptionsSchema>;

/** Dice + BCE. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function dce(opts: Partial<DceOptions> = {}): Loss<DceOptions> {
  const o = lossOptions('dce', DceOptionsSchema, opts);
  return makeLoss('dce', o, (logits, target) => {
    const t = sigmoidInputs('dce', logits, target, o.fromProbabilities);
    const dice = softDice(probs(logits, o.fromProbabilities), t, o.smooth, 'flattened');
    return dice
      .neg()
      .add(1)
      .add(binaryCrossEntropy(logits, t, o.fromProbabilities));
  });
}
