// Generalised Dice loss (Sudre et al. 2017), per class c over the sigmoid channels:
//   1 − (2·Σ_c w_c Σ p t + S) / (Σ_c w_c Σ (p + t) + S),   w_c = 1 / (Σ t_c)².
// A class absent from the target would get w = 1/0: as MONAI does, such weights
// take the largest finite weight (all absent: every weight is 1).
import { ComboSegError } from '../engine/errors.js';
import { tensor } from '../engine/tensor.js';
import { makeLoss, type Loss } from './loss.js';
import { to } from '../engine/device.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions, smooth } from './options.js';
import { probs, sigmoidInputs } from './inputs.js';
import { overlapSum } from './overlap.js';

export const GdlOptionsSchema = z.object({ smooth: smooth(1e-5), fromProbabilities }).strict();
export type GdlOptions = z.infer<typeof GdlOptionsSchema>;

/** Class weights 1/(Σt_c)², absent classes mended (see the module comment). */
export function gdlWeights(classVolumes: number[]): number[] {
  const raw = classVolumes.map((v) => (v > 0 ? 1 / (v * v) : Infinity));
  const finite = raw.filter(Number.isFinite);
  const fill = finite.length ? Math.max(...finite) : 1;
  return raw.map((w) => (Number.isFinite(w) ? w : fill));
}

/** Generalised Dice loss. logits, target: [B, K, ...] (target one-hot {0, 1}). */
export function gdl(opts: Partial<GdlOptions> = {}): Loss<GdlOptions> {
  const o = lossOptions('gdl', GdlOptionsSchema, opts);
  return makeLoss('gdl', o, (logits, target) => {
    const t = sigmoidInputs('gdl', logits, target, o.fromProbabilities);
    const p = probs(logits, o.fromProbabilities);
    const st = overlapSum(t, 'per-class-sum');
    const w = to(tensor(gdlWeights(st.toArray()), [t.shape[1]], { dtype: logits.dtype }), logits.device);
    const num = w
      .mul(overlapSum(p.mul(t), 'per-class-sum'))
      .sum()
      .mul(2)
      .add(o.smooth);
    const den = w.mul(overlapSum(p, 'per-class-sum').add(st)).sum().add(o.smooth);
    if (den.item() === 0) throw new ComboSegError(`loss 'gdl': zero denominator; use smooth > 0`);
    return num.div(den).neg().add(1);
  });
}
