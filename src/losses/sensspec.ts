// Sensitivity–specificity loss (Brosch et al. 2015):
//   r · Σ(t−p)²·t / Σt  +  (1−r) · Σ(t−p)²·(1−t) / Σ(1−t)
// With a binary target each sum in a denominator is 0 or ≥ 1; when it is 0 its
// numerator is 0 too, and the term is defined as 0 (denominators clamped to ≥ 1).
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { batchSum } from '../engine/collective.js';

export const SensSpecOptionsSchema = z
  .object({ r: z.number().min(0).max(1).default(0.05).describe('weight of the sensitivity term'), fromProbabilities })
  .strict();
export type SensSpecOptions = z.infer<typeof SensSpecOptionsSchema>;

/** Sensitivity + specificity loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function sensspec(opts: Partial<SensSpecOptions> = {}): Loss<SensSpecOptions> {
  const o = lossOptions('sensspec', SensSpecOptionsSchema, opts);
  return makeLoss('sensspec', o, (logits, target) => {
    const t = sigmoidInputs('sensspec', logits, target, o.fromProbabilities);
    const notT = t.neg().add(1);
    const sq = t.sub(probs(logits, o.fromProbabilities)).square();
    const sens = batchSum(sq.mul(t).sum()).div(batchSum(t.sum()).clamp(1, null));
    const spec = batchSum(sq.mul(notT).sum()).div(batchSum(notT.sum()).clamp(1, null));
    return sens.mul(o.r).add(spec.mul(1 - o.r));
  });
}
