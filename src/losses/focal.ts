// Focal loss (Lin et al. 2017) on sigmoid outputs, averaged over every element:
//   −α_t · (1 − p_t)^γ · ln p_t,   p_t = p if t = 1 else 1 − p,   α_t = α if t = 1 else 1 − α.
import { makeLoss, type Loss } from './loss.js';
import { to } from '../engine/device.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { z } from 'zod';
import { fromProbabilities, layout, lossOptions } from './options.js';
import { log1mP, logP, logSoftmaxProbs, probs, sigmoidInputs, softmaxInputs } from './inputs.js';
import { batchMean } from '../engine/collective.js';

export const FocalOptionsSchema = z
  .object({
    alpha: z.number().min(0).max(1).default(0.25).describe('weight of the positive class'),
    gamma: z.number().min(0).default(2).describe('focusing exponent γ (0 gives α-weighted BCE)'),
    fromProbabilities,
    layout,
  })
  .strict();
export type FocalOptions = z.infer<typeof FocalOptionsSchema>;

/** Focal loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function focal(opts: Partial<FocalOptions> = {}): Loss<FocalOptions> {
  const o = lossOptions('focal', FocalOptionsSchema, opts);
  return makeLoss('focal', o, (logits, target) => {
    if (o.layout === 'softmax') return categoricalFocal(logits, target, o);
    const t = sigmoidInputs('focal', logits, target, o.fromProbabilities);
    const notT = t.neg().add(1);
    const p = probs(logits, o.fromProbabilities);
    const logPt = t.mul(logP(logits, o.fromProbabilities)).add(notT.mul(log1mP(logits, o.fromProbabilities)));
    const oneMinusPt = t.mul(p.neg().add(1)).add(notT.mul(p));
    const alphaT = t.mul(o.alpha).add(notT.mul(1 - o.alpha));
    return batchMean(alphaT.mul(oneMinusPt.pow(o.gamma)).mul(logPt)).neg();
  });
}

/**
 * Softmax focal loss over background + organs: −mean over voxels of Σ_c t_c · α_c · (1 − p_c)^γ · ln p_c,
 * α_c = α for the organs and 1 − α for the background channel (c = 0).
 */
function categoricalFocal(logits: Tensor, target: Tensor, o: Readonly<FocalOptions>): Tensor {
  const t = softmaxInputs('focal', logits, target, o.fromProbabilities);
  const logp = logSoftmaxProbs(logits, o.fromProbabilities);
  const C = logits.shape[1];
  const alpha = to(
    tensor([1 - o.alpha, ...Array<number>(C - 1).fill(o.alpha)], [1, C, ...logits.shape.slice(2).map(() => 1)], {
      dtype: logits.dtype,
    }),
    logits.device,
  );
  const perClass = t.mul(alpha).mul(logp.exp().neg().add(1).pow(o.gamma)).mul(logp);
  return batchMean(perClass.sum([1])).neg();
}
