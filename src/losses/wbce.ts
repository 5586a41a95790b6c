// The β-weighted binary cross entropy of Combo (eq. 3's first term) on its own:
//   −(1/N) Σ [ β·t·ln p + (1−β)·(1−t)·ln(1−p) ]
import { makeLoss, type Loss } from './loss.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { sigmoidInputs } from './inputs.js';
import { comboCrossEntropyTerms } from './combo.js';

export const WbceOptionsSchema = z
  .object({
    beta: z.number().min(0).max(1).default(0.5).describe('weight of false negatives against false positives'),
    fromProbabilities,
  })
  .strict();
export type WbceOptions = z.infer<typeof WbceOptionsSchema>;

/** β-weighted binary cross entropy. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function wbce(opts: Partial<WbceOptions> = {}): Loss<WbceOptions> {
  const o = lossOptions('wbce', WbceOptionsSchema, opts);
  return makeLoss('wbce', o, (logits, target) => {
    const t = sigmoidInputs('wbce', logits, target, o.fromProbabilities);
    const { foreground, background } = comboCrossEntropyTerms(logits, t, o.beta, 'paper', o.fromProbabilities);
    return foreground.add(background);
  });
}
