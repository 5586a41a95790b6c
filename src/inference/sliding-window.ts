// Sliding-window inference over a volume larger than the network's window
// (../shared/SPEC.md §5). Windows of the training patch size at a stride per
// axis, the last window on each axis reaching the border, batched; the
// per-window probabilities are combined by
//   'max'      — the paper: a voxel is positive for a class if ANY covering
//                window exceeds the threshold, i.e. the maximum over windows;
//   'mean'     — the average over covering windows;
//   'gaussian' — a weighted average, weights a Gaussian centred on each window
//                (σ = 1/8 of the window), so window borders count less.
// Only the output accumulators and one batch of windows are held at a time.
// Sizes here are in tensor order [D, H, W].
import type { Tensor } from '../engine/tensor.js';
import { tidy, keep, noGrad } from '../engine/index.js';
import { sigmoid, maximum, add, mul, div } from '../engine/ops/elementwise.js';
import { cat, flip, pad, slice } from '../engine/ops/shape.js';
import { amax, amin } from '../engine/ops/reduce.js';
import { full, zeros } from '../engine/ops/creation.js';
import { tensor } from '../engine/tensor.js';
import { ComboSegError } from '../engine/errors.js';
import { gaussianMap, windowStarts } from './window-grid.js';

export type { Aggregation } from './settings.js';
import type { Aggregation } from './settings.js';
export type Vec3 = [number, number, number];
/** Logits → probabilities; the output layout decides which (src/data/layout.ts). Default: sigmoid. */
export type Activation = (logits: Tensor) => Tensor;

export interface SlidingWindowOptions {
  /** Window [D, H, W]: the training patch size. */
  window: Vec3;
  /** Step between windows [D, H, W]; the paper: 20 for an 80 window. */
  stride: Vec3;
  aggregation: Aggregation;
  /** Windows per forward pass. Default 1. */
  batch?: number;
  /** Average over the identity and the three single-axis flips. Default false. */
  flipTta?: boolean;
  /** Min–max each window to [0, 1] before the network (the paper's per-sub-volume normalisation). */
  perWindowMinMax?: boolean;
  /** Called after each batch of windows with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Logits → probabilities (the model's output layout). Default: sigmoid. */
  activation?: Activation;
}

export { windowStarts, gaussianMap } from './window-grid.js';

/** Each channel of each item of [B, C, D, H, W] min–maxed to [0, 1] on its own. */
function minMax(x: Tensor): Tensor {
  const dims = [2, 3, 4];
  const lo = amin(x, dims, true),
    hi = amax(x, dims, true);
  const range = hi.sub(lo);
  return div(x.sub(lo), add(range, range.eq(0).cast('float32'))); // a constant window becomes 0
}

/**
 * [1, C, D, H, W] padded by `pads` (pad's order: W, H, D) with each channel's own minimum, so
 * padding reads as the darkest value of its channel (and 0 after a per-window min–max).
 */
function padWithMinimum(x: Tensor, pads: number[]): Tensor {
  const C = x.shape[1];
  if (C === 1) return pad(x, pads, 'constant', x.min().item());
  const channels = Array.from({ length: C }, (_, c) => slice(x, 1, c, c + 1));
  return cat(
    channels.map((ch) => pad(ch, pads, 'constant', ch.min().item())),
    1,
  );
}

/** Probabilities of one batch of windows, averaged over the flips with TTA. */
function predict(net: (x: Tensor) => Tensor, x: Tensor, tta: boolean, activation: Activation): Tensor {
  if (!tta) return activation(net(x));
  let sum = activation(net(x));
  for (const axis of [2, 3, 4]) sum = add(sum, flip(activation(net(flip(x, [axis]))), [axis]));
  return div(sum, 4);
}

/**
 * The running result, kept out of the per-batch scopes: 'max' keeps the maximum over windows;
 * 'mean' and 'gaussian' a (weighted) sum of the windows and the sum of the weights.
 */
type Accumulators =
  | { kind: 'max'; acc: Tensor }
  | { kind: 'mean'; acc: Tensor; weight: Tensor }
  | { kind: 'gaussian'; acc: Tensor; weight: Tensor; g: Tensor };

/** The accumulators over the padded volume for `channels` classes; `g` is the Gaussian map ('gaussian' only). */
function makeAccumulators(aggregation: Aggregation, channels: number, padded: Vec3, g: Tensor | null): Accumulators {
  if (aggregation === 'max') return { kind: 'max', acc: keep(full([1, channels, ...padded], 0)) };
  const acc = keep(zeros([1, channels, ...padded]));
  const weight = keep(zeros([1, 1, ...padded]));
  if (aggregation === 'mean') return { kind: 'mean', acc, weight };
  if (!g) throw new ComboSegError('sliding window: gaussian aggregation needs its weight map');
  return { kind: 'gaussian', acc, weight, g };
}

/** Adds one window's probabilities `p` [1, K, d, h, w]; `crop` cuts the window at `box` out of a volume. */
function addWindow(a: Accumulators, crop: (t: Tensor, box: Vec3) => Tensor, box: Vec3, p: Tensor): void {
  const view = crop(a.acc, box);
  if (a.kind === 'max') view.copy_(maximum(view, p));
  else if (a.kind === 'mean') {
    view.add_(p);
    crop(a.weight, box).add_(1);
  } else {
    view.add_(mul(p, a.g));
    crop(a.weight, box).add_(a.g);
  }
}

/** The combined probabilities, made in the current scope; frees the accumulators. */
function finish(a: Accumulators): Tensor {
  const wsum = a.kind === 'max' ? null : a.weight;
  const out = wsum ? div(a.acc, wsum) : mul(a.acc, 1);
  a.acc.dispose();
  wsum?.dispose();
  return out;
}

/**
 * Per-class probabilities [1, K, D, H, W] for an image [1, C, D, H, W]. `net`
 * maps [B, C, d, h, w] to logits [B, K, d, h, w] (run in eval mode, no grad).
 * Per-window min–max and padding treat each input channel on its own.
 */
export function slidingWindow(net: (x: Tensor) => Tensor, image: Tensor, o: SlidingWindowOptions): Tensor {
  if (image.rank !== 5 || image.shape[0] !== 1)
    throw new ComboSegError(`sliding window: expected an image [1, C, D, H, W], got [${image.shape}]`);
  const w = o.window;
  const shape = image.shape.slice(2) as Vec3;
  // A volume smaller than the window is padded (with its minimum) up to it, and cropped back after.
  const padded = shape.map((s, i) => Math.max(s, w[i])) as Vec3;
  return tidy(() =>
    noGrad(() => {
      let img = image;
      if (padded.some((p, i) => p > shape[i]))
        img = padWithMinimum(image, [0, padded[2] - shape[2], 0, padded[1] - shape[1], 0, padded[0] - shape[0]]);
      const starts = padded.map((len, i) => windowStarts(len, w[i], o.stride[i]));
      const boxes: Vec3[] = [];
      for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) boxes.push([z, y, x]);
      // Made at the first batch (when the class count is known), inside a per-batch closure:
      // held in an object, whose property TypeScript does not narrow to its initial null.
      const state: { acc: Accumulators | null } = { acc: null };
      const g = o.aggregation === 'gaussian' ? tensor(gaussianMap(w), [1, 1, ...w]) : null;
      const batch = Math.max(1, o.batch ?? 1);
      const crop = (t: Tensor, [z, y, x]: Vec3) =>
        slice(slice(slice(t, 2, z, z + w[0]), 3, y, y + w[1]), 4, x, x + w[2]);
      for (let b = 0; b < boxes.length; b += batch) {
        tidy(() => {
          const group = boxes.slice(b, b + batch);
          let windows = cat(
            group.map((box) => crop(img, box)),
            0,
          );
          if (o.perWindowMinMax) windows = minMax(windows);
          const probs = predict(net, windows, o.flipTta ?? false, o.activation ?? sigmoid);
          const acc = (state.acc ??= makeAccumulators(o.aggregation, probs.shape[1], padded, g));
          group.forEach((box, k) => {
            addWindow(acc, crop, box, slice(probs, 0, k, k + 1));
          });
        });
        o.onProgress?.(Math.min(b + batch, boxes.length), boxes.length);
      }
      if (!state.acc) throw new ComboSegError('sliding window: no windows over the volume');
      // The accumulators were kept out of the per-batch scopes: hand their result to this scope, then free them.
      let out = finish(state.acc);
      if (padded.some((p, i) => p > shape[i]))
        out = slice(slice(slice(out, 2, 0, shape[0]), 3, 0, shape[1]), 4, 0, shape[2]).contiguous();
      return out;
    }),
  );
}

/** One forward pass over the whole volume, padded up to a multiple of `divisor` (no window redundancy). */
export function wholeVolume(
  net: (x: Tensor) => Tensor,
  image: Tensor,
  divisor: number,
  o: { flipTta?: boolean; perVolumeMinMax?: boolean; activation?: Activation } = {},
): Tensor {
  const shape = image.shape.slice(2) as Vec3;
  const target = shape.map((s) => Math.ceil(s / divisor) * divisor);
  return tidy(() =>
    noGrad(() => {
      let x = image;
      if (o.perVolumeMinMax) x = minMax(x);
      if (target.some((t, i) => t > shape[i]))
        x = padWithMinimum(x, [0, target[2] - shape[2], 0, target[1] - shape[1], 0, target[0] - shape[0]]);
      const p = predict(net, x, o.flipTta ?? false, o.activation ?? sigmoid);
      return slice(slice(slice(p, 2, 0, shape[0]), 3, 0, shape[1]), 4, 0, shape[2]).contiguous();
    }),
  );
}
