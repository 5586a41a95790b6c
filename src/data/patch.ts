// Cutting sub-volumes out of a volume, padding where they cross its border, and
// stacking them into tensors. Sizes and corners are in (x, y, z) order, like Volume.
import { tensor, type Tensor } from '../engine/tensor.js';
import { ComboSegError } from '../engine/errors.js';
import { outputChannels, type OutputLayout } from './layout.js';
import { preparePatch, type PreparedPatch } from './prepared.js';
import type { Patch } from './crop.js';

export { extractPatch, extractChannelsPatch, type Patch } from './crop.js';

/**
 * Stacks patches of one size into network input [B, C, D, H, W] and one-hot targets in the
 * output layout: [B, K, D, H, W] (sigmoid: one channel per organ value, no background) or
 * [B, K + 1, D, H, W] (softmax: background first). With `perPatchMinMax` (the paper) each image
 * patch is scaled to [0, 1] first, each channel on its own.
 */
export function toBatch(
  patches: Patch[],
  organs: number[],
  perPatchMinMax = true,
  layout: OutputLayout = 'sigmoid',
): { image: Tensor; target: Tensor } {
  if (!patches.length) throw new ComboSegError('toBatch: no patches', { code: 'invalid-input' });
  return batchOf(
    patches.map((p) => preparePatch(p, { organs, perPatchMinMax, layout })),
    outputChannels(layout, organs.length),
  );
}

/** Prepared patches (src/data/prepared.ts) of one size, K target channels each, as one batch. */
export function batchOf(patches: PreparedPatch[], K: number): { image: Tensor; target: Tensor } {
  if (!patches.length) throw new ComboSegError('toBatch: no patches', { code: 'invalid-input' });
  if (patches.some((p) => p.size.join() !== patches[0].size.join())) {
    throw new ComboSegError(`toBatch: patches of different sizes (${patches.map((p) => `[${p.size}]`).join(', ')})`, {
      code: 'invalid-input',
    });
  }
  const [px, py, pz] = patches[0].size;
  const n = px * py * pz,
    C = patches[0].channels,
    B = patches.length;
  const bad = patches.find((p) => p.channels !== C || p.image.length !== C * n || p.target.length !== K * n);
  if (bad) {
    const why = `patch of case '${bad.caseId}' has ${bad.image.length} image values, ${bad.channels} channel(s)`;
    throw new ComboSegError(`toBatch: ${why}; the batch needs ${C} channel(s) of [${patches[0].size}]`, {
      code: 'invalid-input',
    });
  }
  const image = new Float32Array(B * C * n),
    target = new Float32Array(B * K * n);
  patches.forEach((p, b) => {
    image.set(p.image, b * C * n);
    target.set(p.target, b * K * n);
  });
  return {
    image: tensor(image, [B, C, pz, py, px], { copy: false }),
    target: tensor(target, [B, K, pz, py, px], { copy: false }),
  };
}
