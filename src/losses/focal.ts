// Focal loss (Lin et al. 2017) on sigmoid outputs, averaged over every element:
//   −α_t · (1 − p_t)^γ · ln p_t,   p_t = p if t = 1 else 1 − p,   α_t = α if t = 1 else 1 − α.
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { log1mP, logP, probs, sigmoidInputs } from './inputs.js';

export const FocalOptionsSchema = z
  .object({
    alpha: z.number().min(0).max(1).default(0.25).describe('weight of the positive class'),
    gamma: z.number().min(0).default(2).describe('focusing exponent γ (0 gives α-weighted BCE)'),
    fromProbabilities,
  })
  .strict();
export type FocalOptions = z.infer<typeof FocalOptionsSchema>;

/** Focal loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function focal(opts: Partial<FocalOptions> = {}): Loss<FocalOptions> {
  const o = lossOptions('focal', FocalOptionsSchema, opts);
  return makeLoss('focal', o, (logits, target) => {
    const t = sigmoidInputs('focal', logits, target, o.fromProbabilities);
    const notT = t.neg().add(1);
    const p = probs(logits, o.fromProbabilities);
    const logPt = t.mul(logP(logits, o.fromProbabilities)).add(notT.mul(log1mP(logits, o.fromProbabilities)));
    const oneMinusPt = t.mul(p.neg().add(1)).add(notT.mul(p));
    const alphaT = t.mul(o.alpha).add(notT.mul(1 - o.alpha));
    return alphaT.mul(oneMinusPt.pow(o.gamma)).mul(logPt).mean().neg();
  });
}
