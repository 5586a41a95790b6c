// Dice + plain (unweighted) cross entropy, on sigmoid outputs (SPEC §2 "DCE"):
//   (1 − Dice) + BCE, with Dice over the flattened tensor.
import { makeLoss, type Loss } from './loss.js';
import { checkBoolean, checkRange, mergeOptions } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { binaryCrossEntropy } from './bce.js';
import { softDice } from './overlap.js';

export interface DceOptions {
  /** Additive smoothing S of the Dice term. Default 1. */
  smooth: number;
  fromProbabilities: boolean;
}
export const DCE_DEFAULTS: Readonly<DceOptions> = Object.freeze({ smooth: 1, fromProbabilities: false });

/** Dice + BCE. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function dce(opts: Partial<DceOptions> = {}): Loss<DceOptions> {
  const o = mergeOptions('dce', DCE_DEFAULTS, opts);
  checkRange('dce', 'smooth', o.smooth, 0, Infinity);
  checkBoolean('dce', 'fromProbabilities', o.fromProbabilities);
  return makeLoss('dce', o, (logits, target) => {
    const t = sigmoidInputs('dce', logits, target, o.fromProbabilities);
    const dice = softDice(probs(logits, o.fromProbabilities), t, o.smooth, 'flattened');
    return dice.neg().add(1).add(binaryCrossEntropy(logits, t, o.fromProbabilities));
  });
}
