// Weighted categorical cross entropy (softmax), weights per class, normalised as
// PyTorch's weighted mean:  −Σ_vox w_{y} · ln softmax(x)_{y}  /  Σ_vox w_{y}.
// Weights: given, or computed from the target batch:
//   'inverse-frequency':  w_c = N / (C · n_c)
//   'median-frequency':   w_c = median_c'(f_c') / f_c,  f_c = n_c / N  (SegNet; Eigen & Fergus)
// where n_c counts voxels of class c. Classes absent from the batch get weight 0
// (they contribute nothing anyway) so no weight is infinite.
import { tensor } from '../engine/tensor.js';
import type { Tensor } from '../engine/tensor.js';
import { ComboSegError } from '../engine/errors.js';
import { makeLoss, type Loss } from './loss.js';
import { to } from '../engine/device.js';
import { z } from 'zod';
import { fromProbabilities, lossOptions } from './options.js';
import { logSoftmaxProbs, softmaxInputs } from './inputs.js';
import { batchSum } from '../engine/collective.js';

export const ClassWeightsSchema = z
  .union([z.array(z.number().min(0)).min(1), z.enum(['inverse-frequency', 'median-frequency'])])
  .describe('per-class weights (length C), or a rule that computes them from the target');
export type ClassWeights = z.infer<typeof ClassWeightsSchema>;

export const WceOptionsSchema = z
  .object({ weights: ClassWeightsSchema.default('inverse-frequency'), fromProbabilities })
  .strict();
export type WceOptions = z.infer<typeof WceOptionsSchema>;

/** Class weights from voxel counts per class (see the module comment). */
export function frequencyWeights(counts: number[], rule: 'inverse-frequency' | 'median-frequency'): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  if (rule === 'inverse-frequency') return counts.map((c) => (c > 0 ? n / (counts.length * c) : 0));
  const freqs = counts
    .filter((c) => c > 0)
    .map((c) => c / n)
    .sort((a, b) => a - b);
  const mid = freqs.length / 2;
  const median = freqs.length % 2 ? freqs[Math.floor(mid)] : (freqs[mid - 1] + freqs[mid]) / 2;
  return counts.map((c) => (c > 0 ? median / (c / n) : 0));
}

/** Weighted softmax cross entropy. logits [B, C, ...]; target labels [B, ...] or one-hot [B, C, ...]. */
export function wce(opts: Partial<WceOptions> = {}): Loss<WceOptions> {
  const o = lossOptions('wce', WceOptionsSchema, opts);
  const w = o.weights;
  return makeLoss('wce', o, (logits, target) => {
    const t = softmaxInputs('wce', logits, target, o.fromProbabilities);
    const C = logits.shape[1];
    let weights: number[];
    if (Array.isArray(w)) {
      if (w.length !== C) throw new ComboSegError(`loss 'wce': ${w.length} class weights given for ${C} channels`);
      weights = w;
    } else {
      weights = frequencyWeights(perClassCounts(t), w);
    }
    const wShape = [1, C, ...Array<number>(logits.rank - 2).fill(1)];
    // w_y at each voxel, one-hot spread; the weights go where the logits are (a GPU run).
    const wt = t.mul(to(tensor(weights, wShape, { dtype: logits.dtype }), logits.device));
    const num = batchSum(wt.mul(logSoftmaxProbs(logits, o.fromProbabilities)).sum()).neg();
    const den = batchSum(wt.sum());
    if (den.item() === 0) throw new ComboSegError(`loss 'wce': every voxel has class weight 0`);
    return num.div(den);
  });
}

/** Voxels per class over the whole batch (all ranks in data-parallel training). */
function perClassCounts(t: Tensor): number[] {
  return batchSum(t.sum([0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2)])).toArray();
}
