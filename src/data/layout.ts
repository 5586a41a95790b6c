// The output layout: how a network's channels map to organs. The loss declares it, the checkpoint
// records it, and everything else asks it — targets, the activation, the label rule (SPEC §1, §5).
// Engine-free (the page runs exported models with it too); the activation on tensors is in
// src/inference/predict.ts, on arrays in src/inference/portable.ts:
//   'sigmoid'  K channels, one per organ, no background (the paper): a voxel takes the most probable
//              organ whose probability exceeds the threshold, else background.
//   'softmax'  K + 1 channels, background first (CE, WCE): a voxel takes the most probable class.
import type { OutputLayout } from '../losses/layout.js';
import { ComboSegError } from '../engine/errors.js';
import { labelsFromProbabilities } from './labels.js';
export { targetOf } from './labels.js';

export { OutputLayoutSchema, type OutputLayout } from '../losses/layout.js';

/** Network output channels for K organs. */
export function outputChannels(layout: OutputLayout, organs: number): number {
  return layout === 'softmax' ? organs + 1 : organs;
}

/** Probabilities [C, N] (channel-major) → a label map of organ values (0: background). */
export function labelsOf(
  layout: OutputLayout,
  probs: Float32Array,
  organs: number[],
  threshold: number,
): Uint8Array | Uint16Array {
  if (layout === 'sigmoid') return labelsFromProbabilities(probs, organs, threshold);
  // argmax over background + organs: the background channel is value 0, kept only where it wins.
  return labelsFromProbabilities(probs, [0, ...organs], 0);
}

/** Organ k's probability map (k in 0..K−1) out of probabilities [C, N]: a view, no copy. */
export function organProbabilities(layout: OutputLayout, probs: Float32Array, organs: number, k: number): Float32Array {
  const channels = outputChannels(layout, organs);
  const n = probs.length / channels;
  if (!Number.isInteger(n) || k < 0 || k >= organs) {
    throw new ComboSegError(`organProbabilities: no organ ${k} in ${probs.length} values of ${channels} channels`, {
      code: 'invalid-input',
    });
  }
  const c = layout === 'softmax' ? k + 1 : k;
  return probs.subarray(c * n, (c + 1) * n);
}
