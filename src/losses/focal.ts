// Focal loss (Lin et al. 2017) on sigmoid outputs, averaged over every element:
//   −α_t · (1 − p_t)^γ · ln p_t,   p_t = p if t = 1 else 1 − p,   α_t = α if t = 1 else 1 − α.
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkRange, mergeOptions } from './options.js';
import { log1mP, logP, probs, sigmoidInputs } from './inputs.js';

export interface FocalOptions {
  /** Weight of the positive class, in [0, 1]. Default 0.25. */
  alpha: number;
  /** Focusing exponent γ ≥ 0 (0 gives α-weighted BCE). Default 2. */
  gamma: number;
  fromProbabilities: boolean;
}
export const FOCAL_DEFAULTS: Readonly<FocalOptions> = Object.freeze({ alpha: 0.25, gamma: 2, fromProbabilities: false });

/** Focal loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function focal(opts: Partial<FocalOptions> = {}): Loss<FocalOptions> {
  const o = mergeOptions('focal', FOCAL_DEFAULTS, opts);
  checkRange('focal', 'alpha', o.alpha, 0, 1);
  checkRange('focal', 'gamma', o.gamma, 0, Infinity);
  checkBoolean('focal', 'fromProbabilities', o.fromProbabilities);
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
