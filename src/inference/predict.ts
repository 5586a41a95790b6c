// From a scan to a label map with the scan's geometry: the model's own
// normalisation, sliding window (or one whole-volume pass when it fits in
// memory), threshold, and the most probable organ where masks overlap; optionally only the largest
// connected component of each organ (src/inference/postprocess.ts).
import { tensor, type Tensor } from '../engine/tensor.js';
import { tidy } from '../engine/scope.js';
import { to } from '../engine/device.js';
import type { Network } from '../networks/network.js';
import { normaliseChannels } from '../data/normalise.js';
import type { OutputLayout } from '../data/layout.js';
import { sigmoid } from '../engine/ops/elementwise.js';
import { softmax } from '../engine/ops/nn.js';
import {
  channelCount,
  spatialShape,
  stackChannels,
  withData,
  type Geometry,
  type Vec3,
  type Volume,
} from '../data/volume.js';
import { slidingWindow, wholeVolume } from './sliding-window.js';
import type { InferenceSettings } from './settings.js';
import { checkChannels, type ModelMeta } from './model.js';
import { toSpacing } from '../data/spacing.js';
import { resampleLike } from '../data/resample.js';
import { largestComponentOrgans } from './postprocess.js';
import { predictionFrom, type Prediction } from './prediction.js';

export type { InferenceSettings } from './settings.js';
export { predictionFrom, type Prediction } from './prediction.js';

/** Logits [B, C, ...] → probabilities: element-wise sigmoid, or softmax over the channels. */
export function activate(layout: OutputLayout, logits: Tensor): Tensor {
  return layout === 'softmax' ? softmax(logits, 1) : sigmoid(logits);
}

/**
 * Rough peak memory of one eval-mode forward pass over `voxels` voxels
 * (a few full-resolution activations live at once).
 */
export function wholeVolumeBytes(net: Network, voxels: number): number {
  return voxels * net.fullResolutionWidth * 4 * 4;
}

/** A network's probabilities for one scan, before they become a label map. */
export interface RawPrediction {
  /** The scan (its channels stacked): the grid of the probabilities. */
  scan: Volume;
  /** The layout's channels [C, N] (channel-major) on the scan's grid, float32. */
  probs: Float32Array;
  /** The settings it ran with: the model's own, overridden by the caller's. */
  settings: InferenceSettings;
  mode: 'window' | 'whole';
}

/**
 * The network's probabilities for one scan (a volume with the model's channels, or its channels as a
 * list of volumes on one grid): the model's normalisation, then sliding windows or one whole-volume pass.
 */
export function predictProbabilities(
  net: Network,
  meta: ModelMeta,
  input: Volume | Volume[],
  o: Partial<InferenceSettings> = {},
  onProgress?: (done: number, total: number) => void,
): RawPrediction {
  const given = Array.isArray(input) ? stackChannels(input) : input;
  const C = channelCount(given);
  checkChannels(meta, C);
  const s = { ...meta.inference, ...o };
  largestComponentOrgans(meta.labels, s.largestComponent); // an unknown organ name fails before the network runs
  // A model trained on one spacing sees every scan on it; its probabilities go back to the scan's own grid.
  const scan = meta.spacing ? toSpacing(given, meta.spacing, 'linear') : given;
  const shape = spatialShape(scan);
  const padded = shape.map((n) => Math.ceil(n / net.divisor) * net.divisor);
  const voxels = padded[0] * padded[1] * padded[2];
  const mode =
    s.mode === 'auto' ? (wholeVolumeBytes(net, voxels) <= s.memoryBudgetMiB * 2 ** 20 ? 'whole' : 'window') : s.mode;
  const windowXyz = meta.patchSize;
  const strideXyz = s.stride ?? (windowXyz.map((w) => Math.max(1, Math.floor(w / 2))) as Vec3);
  const activation = (logits: Tensor): Tensor => activate(meta.layout, logits);
  const probs = tidy(() => {
    const x = tensor(normaliseChannels(scan, meta.normalisation), [1, C, ...shape], { copy: false });
    // The input goes to the network's device window by window, probabilities come back to the CPU,
    // where the sliding window's accumulators live (a volume's worth of GPU memory is not needed).
    const device = net.device;
    const forward = (t: typeof x) => to(net.run(to(t, device)), 'cpu');
    const p =
      mode === 'whole'
        ? wholeVolume(forward, x, net.divisor, {
            flipTta: s.flipTta,
            perVolumeMinMax: meta.perPatchMinMax,
            activation,
          })
        : slidingWindow(forward, x, {
            window: [windowXyz[2], windowXyz[1], windowXyz[0]],
            stride: [strideXyz[2], strideXyz[1], strideXyz[0]],
            aggregation: s.aggregation,
            batch: s.swBatch,
            flipTta: s.flipTta,
            perWindowMinMax: meta.perPatchMinMax,
            onProgress,
            activation,
          });
    return p.toFloat32Array(); // [1, C, D, H, W] is channel-major: each channel's map is one contiguous run
  });
  return { scan: given, probs: scan === given ? probs : onGridOf(probs, scan, given), settings: s, mode };
}

/**
 * Segments one scan: a volume with the model's channels, or its channels as a list of volumes on
 * one grid. `net` must be in eval mode.
 */
export function predictVolume(
  net: Network,
  meta: ModelMeta,
  input: Volume | Volume[],
  o: Partial<InferenceSettings> = {},
  onProgress?: (done: number, total: number) => void,
): Prediction {
  const raw = predictProbabilities(net, meta, input, o, onProgress);
  return predictionFrom(raw.scan, meta, raw.probs, raw.settings, raw.mode);
}

/** Channel-major probability maps on `from`'s grid, resampled (linear) onto `to`'s grid. */
function onGridOf(probs: Float32Array, from: Geometry, to: Geometry): Float32Array {
  const n = from.size[0] * from.size[1] * from.size[2],
    m = to.size[0] * to.size[1] * to.size[2];
  const channels = probs.length / n;
  const out = new Float32Array(channels * m);
  for (let c = 0; c < channels; c++) {
    const map = withData(from, probs.subarray(c * n, (c + 1) * n), 'float32');
    out.set(resampleLike(map, to, 'linear').data, c * m);
  }
  return out;
}
