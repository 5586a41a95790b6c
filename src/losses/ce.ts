// Categorical cross entropy on softmax outputs (channels include background):
//   −(1/N_vox) Σ_vox Σ_c t_c · ln softmax(x)_c
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, mergeOptions } from './options.js';
import { logSoftmaxProbs, softmaxInputs } from './inputs.js';

export interface CeOptions { fromProbabilities: boolean }
export const CE_DEFAULTS: Readonly<CeOptions> = Object.freeze({ fromProbabilities: false });

/**
 * Softmax cross entropy. logits [B, C, ...]; target integer labels [B, ...] in
 * 0..C−1, or one-hot [B, C, ...].
 */
export function ce(opts: Partial<CeOptions> = {}): Loss<CeOptions> {
  const o = mergeOptions('ce', CE_DEFAULTS, opts);
  checkBoolean('ce', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('ce', o, (logits, target) => {
    const t = softmaxInputs('ce', logits, target, o.fromProbabilities);
    return t.mul(logSoftmaxProbs(logits, o.fromProbabilities)).sum([1]).mean().neg();
  });
}
