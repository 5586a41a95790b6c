// Probabilities on a scan's grid → the prediction: the label map by the output layout's rule, the
// largest-component step when asked, one probability map per organ. Engine-free: libtorch's path
// (./predict.ts) and onnxruntime's (./portable.ts) end here alike.
import { labelsOf, organProbabilities } from '../data/layout.js';
import { withData, type Geometry, type Volume } from '../data/volume.js';
import type { InferenceSettings } from './settings.js';
import type { ModelMeta } from './model-meta.js';
import { largestComponentOrgans, largestComponents } from './postprocess.js';

export interface Prediction {
  labels: Volume;
  /** Per-organ probability maps on the scan's grid (float32), in label-set order. */
  probabilities: Volume[];
  mode: 'window' | 'whole';
}

/**
 * Probabilities → a prediction on the scan's grid (`like`): the label map by the layout's rule (sigmoid:
 * the most probable organ over `threshold`, else background; softmax: the most probable class), then the
 * largest-component step when `largestComponent` asks for it, and one probability map per organ
 * (views of `probs`, in label-set order).
 */
export function predictionFrom(
  like: Geometry,
  meta: Pick<ModelMeta, 'layout' | 'labels'>,
  probs: Float32Array,
  s: Pick<InferenceSettings, 'threshold' | 'largestComponent'>,
  mode: Prediction['mode'],
): Prediction {
  const K = meta.labels.values.length;
  const organMap = (k: number): Volume => withData(like, organProbabilities(meta.layout, probs, K, k), 'float32');
  const labels = withData(like, labelsOf(meta.layout, probs, meta.labels.values, s.threshold), 'uint8');
  const organs = largestComponentOrgans(meta.labels, s.largestComponent);
  return {
    labels: organs.length ? largestComponents(labels, organs) : labels,
    probabilities: Array.from({ length: K }, (_, k) => organMap(k)),
    mode,
  };
}
