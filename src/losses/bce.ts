// Binary cross entropy per channel on sigmoid outputs, averaged over every element:
//   −(1/N) Σ [ t·ln p + (1−t)·ln(1−p) ],  ln p = log σ(x) (stable for any logit).
import type { Tensor } from '../engine/tensor.js';
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { log1mP, logP, sigmoidInputs } from './inputs.js';
import { batchMean } from '../engine/collective.js';

export const BceOptionsSchema = z.object({ fromProbabilities }).strict();
export type BceOptions = z.infer<typeof BceOptionsSchema>;

/** Binary cross entropy. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function bce(opts: Partial<BceOptions> = {}): Loss<BceOptions> {
  const o = lossOptions('bce', BceOptionsSchema, opts);
  return makeLoss('bce', o, (logits, target) => {
    const t = sigmoidInputs('bce', logits, target, o.fromProbabilities);
    return binaryCrossEntropy(logits, t, o.fromProbabilities);
  });
}

/** −mean[t·ln p + (1−t)·ln(1−p)] on already-checked inputs. */
export function binaryCrossEntropy(logits: Tensor, t: Tensor, fromProbabilities: boolean): Tensor {
  return batchMean(
    t.mul(logP(logits, fromProbabilities)).add(t.neg().add(1).mul(log1mP(logits, fromProbabilities))),
  ).neg();
}
