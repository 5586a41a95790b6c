// The β-weighted binary cross entropy of Combo (eq. 3's first term) on its own:
//   −(1/N) Σ [ β·t·ln p + (1−β)·(1−t)·ln(1−p) ]
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkRange, mergeOptions } from './options.js';
import { sigmoidInputs } from './inputs.js';
import { comboCrossEntropyTerms } from './combo.js';

export interface WbceOptions {
  /** Weight of false negatives against false positives, in [0, 1]. Default 0.5. */
  beta: number;
  fromProbabilities: boolean;
}
export const WBCE_DEFAULTS: Readonly<WbceOptions> = Object.freeze({ beta: 0.5, fromProbabilities: false });

/** β-weighted binary cross entropy. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function wbce(opts: Partial<WbceOptions> = {}): Loss<WbceOptions> {
  const o = mergeOptions('wbce', WBCE_DEFAULTS, opts);
  checkRange('wbce', 'beta', o.beta, 0, 1);
  checkBoolean('wbce', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('wbce', o, (logits, target) => {
    const t = sigmoidInputs('wbce', logits, target, o.fromProbabilities);
    const { foreground, background } = comboCrossEntropyTerms(logits, t, o.beta, 'paper', o.fromProbabilities);
    return foreground.add(background);
  });
}
