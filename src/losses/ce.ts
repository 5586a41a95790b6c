// Categorical cross entropy on softmax outputs (channels include background):
//   −(1/N_vox) Σ_vox Σ_c t_c · ln softmax(x)_c
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { logSoftmaxProbs, softmaxInputs } from './inputs.js';
import { batchMean } from '../engine/collective.js';

export const CeOptionsSchema = z.object({ fromProbabilities }).strict();
export type CeOptions = z.infer<typeof CeOptionsSchema>;

/**
 * Softmax cross entropy. logits [B, C, ...]; target integer labels [B, ...] in
 * 0..C−1, or one-hot [B, C, ...].
 */
export function ce(opts: Partial<CeOptions> = {}): Loss<CeOptions> {
  const o = lossOptions('ce', CeOptionsSchema, opts);
  return makeLoss('ce', o, (logits, target) => {
    const t = softmaxInputs('ce', logits, target, o.fromProbabilities);
    return batchMean(t.mul(logSoftmaxProbs(logits, o.fromProbabilities)).sum([1])).neg();
  });
}
