// Inference over plain arrays for runtimes other than libtorch — onnxruntime in Node
// (`predict --runtime onnx`) and in the viewer page — with libtorch's rules (./predict.ts,
// ./sliding-window.ts): the model's normalisation and spacing, windows of the training patch at the
// stride, each window (or the volume) min–maxed when the model was trained so, padding with each
// channel's minimum, max / mean / Gaussian aggregation, flip TTA, then ./prediction.ts.
// Engine-free and Node-free: the page bundles it.
import { ComboSegError } from '../engine/errors.js';
import { minMaxChannelsInPlace, normaliseChannels } from '../data/normalise.js';
import { outputChannels } from '../data/layout.js';
import { channelCount, voxelCount, type Vec3, type Volume } from '../data/volume.js';
import { hasSpacing, mapsOnGrid, resizeVolumeLinear, sizeForSpacing } from '../data/resize-linear.js';
import type { InferenceSettings } from './settings.js';
import { checkChannels, type ModelMeta } from './model-meta.js';
import { largestComponentOrgans } from './postprocess.js';
import { predictionFrom, type Prediction } from './prediction.js';
import { gaussianMap, windowStarts } from './window-grid.js';

export type Shape5 = [number, number, number, number, number];

/** A network run by some runtime: input [B, C, d, h, w] → logits [B, K, d, h, w] (K = data.length / (B·d·h·w)). */
export type ArrayForward = (x: Float32Array, shape: Shape5) => Promise<Float32Array>;

/** An exported model ready to run: its metadata and its runtime's forward pass. */
export interface PortableModel {
  meta: ModelMeta;
  /** Each spatial size of the input must be a multiple of this. */
  divisor: number;
  /** Channels of the widest full-resolution activation (sizes a whole-volume pass). */
  fullResolutionWidth: number;
  forward: ArrayForward;
}

/** Logits → probabilities in place: sigmoid, or softmax over the K channels of each item. */
function activate(layout: ModelMeta['layout'], x: Float32Array, batch: number, K: number): void {
  if (layout === 'sigmoid') {
    for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
    return;
  }
  const n = x.length / (batch * K);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < n; i++) {
      const at = (k: number) => (b * K + k) * n + i;
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, x[at(k)]);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[at(k)] = Math.exp(x[at(k)] - m);
      for (let k = 0; k < K; k++) x[at(k)] /= sum;
    }
}

/** Each [d, h, w] block of `x` (count blocks) reversed along axis 0 (d), 1 (h) or 2 (w). */
function flip(x: Float32Array, blocks: number, [d, h, w]: Vec3, axis: number): Float32Array {
  const out = new Float32Array(x.length);
  const n = d * h * w;
  for (let b = 0; b < blocks; b++)
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const [zz, yy, xs] = [axis === 0 ? d - 1 - z : z, axis === 1 ? h - 1 - y : y, axis === 2 ? w - 1 - xx : xx];
          out[b * n + (z * h + y) * w + xx] = x[b * n + (zz * h + yy) * w + xs];
        }
  return out;
}

/** Probabilities of a batch [B, C, ...size], averaged over the three single-axis flips with TTA. */
async function probabilities(
  model: PortableModel,
  x: Float32Array,
  shape: Shape5,
  tta: boolean,
): Promise<Float32Array> {
  const [B, C, ...size] = shape;
  const n = size[0] * size[1] * size[2];
  const run = async (input: Float32Array): Promise<Float32Array> => {
    const y = await model.forward(input, shape);
    const K = y.length / (B * n);
    if (!Number.isInteger(K) || K < 1)
      throw new ComboSegError(`the model returned ${y.length} values for ${B} window(s) of ${n} voxels`);
    activate(model.meta.layout, y, B, K);
    return y;
  };
  const sum = await run(x);
  if (!tta) return sum;
  for (const axis of [0, 1, 2]) {
    const y = await run(flip(x, B * C, size, axis));
    const back = flip(y, y.length / n, size, axis);
    for (let i = 0; i < sum.length; i++) sum[i] += back[i];
  }
  for (let i = 0; i < sum.length; i++) sum[i] /= 4;
  return sum;
}

/** Each channel's minimum over [C, n]. */
function channelMinima(x: Float32Array, C: number): number[] {
  const n = x.length / C;
  return Array.from({ length: C }, (_, c) => {
    let m = Infinity;
    for (let i = c * n; i < (c + 1) * n; i++) if (x[i] < m) m = x[i];
    return m;
  });
}

/** [C, ...from] placed at the origin of [C, ...to], the rest filled with each channel's `fill`. */
function padTo(x: Float32Array, C: number, from: Vec3, to: Vec3, fill: number[]): Float32Array {
  const [D, H, W] = from,
    [TD, TH, TW] = to;
  const out = new Float32Array(C * TD * TH * TW);
  for (let c = 0; c < C; c++) {
    out.fill(fill[c], c * TD * TH * TW, (c + 1) * TD * TH * TW);
    for (let z = 0; z < D; z++)
      for (let y = 0; y < H; y++) {
        const src = ((c * D + z) * H + y) * W;
        out.set(x.subarray(src, src + W), ((c * TD + z) * TH + y) * TW);
      }
  }
  return out;
}

/** The box [z, y, x] + `win` of [C, ...size] as [C, ...win]; or, with `into`, `add(box value, window value)`. */
function crop(x: Float32Array, C: number, size: Vec3, box: Vec3, win: Vec3): Float32Array {
  const [, H, W] = size;
  const out = new Float32Array(C * win[0] * win[1] * win[2]);
  let o = 0;
  for (let c = 0; c < C; c++)
    for (let z = 0; z < win[0]; z++)
      for (let y = 0; y < win[1]; y++) {
        const src = ((c * size[0] + box[0] + z) * H + box[1] + y) * W + box[2];
        out.set(x.subarray(src, src + win[2]), o);
        o += win[2];
      }
  return out;
}

interface WindowPass {
  window: Vec3;
  stride: Vec3;
  aggregation: InferenceSettings['aggregation'];
  batch: number;
  tta: boolean;
  perWindowMinMax: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Adds window k of `probs` [B, K, ...win] into the accumulators at `box` (max, or weighted sums). */
function accumulate(
  acc: Float32Array,
  weight: Float32Array | null,
  g: Float32Array | null,
  o: { K: number; size: Vec3; win: Vec3; box: Vec3; probs: Float32Array; k: number },
): void {
  const { K, size, win, box, probs, k } = o;
  const [, H, W] = size;
  const wn = win[0] * win[1] * win[2],
    n = size[0] * H * W;
  for (let z = 0, j = 0; z < win[0]; z++)
    for (let y = 0; y < win[1]; y++)
      for (let x = 0; x < win[2]; x++, j++) {
        const v = ((box[0] + z) * H + box[1] + y) * W + box[2] + x;
        const wt = g ? g[j] : 1;
        if (weight) weight[v] += wt;
        for (let c = 0; c < K; c++) {
          const p = probs[(k * K + c) * wn + j];
          const i = c * n + v;
          acc[i] = weight ? acc[i] + p * wt : Math.max(acc[i], p);
        }
      }
}

/** Probabilities [K, ...size] of an image [C, ...size] by sliding windows (./sliding-window.ts's rules). */
async function slidingWindow(model: PortableModel, image: Float32Array, C: number, shape: Vec3, o: WindowPass) {
  const win = o.window;
  const size = shape.map((s, i) => Math.max(s, win[i])) as Vec3;
  const img = size.some((s, i) => s > shape[i]) ? padTo(image, C, shape, size, channelMinima(image, C)) : image;
  const starts = size.map((len, i) => windowStarts(len, win[i], o.stride[i]));
  const boxes: Vec3[] = [];
  for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) boxes.push([z, y, x]);
  const n = size[0] * size[1] * size[2];
  const K = outputChannels(model.meta.layout, model.meta.labels.values.length);
  const acc = new Float32Array(K * n);
  const weight = o.aggregation === 'max' ? null : new Float32Array(n);
  const g = o.aggregation === 'gaussian' ? gaussianMap(win) : null;
  for (let b = 0; b < boxes.length; b += o.batch) {
    const group = boxes.slice(b, b + o.batch);
    const windows = group.map((box) => {
      const w = crop(img, C, size, box, win);
      return o.perWindowMinMax ? minMaxChannelsInPlace(w, C) : w;
    });
    const x = new Float32Array(windows.reduce((s, w) => s + w.length, 0));
    windows.forEach((w, k) => x.set(w, k * w.length));
    const probs = await probabilities(model, x, [group.length, C, ...win], o.tta);
    group.forEach((box, k) => accumulate(acc, weight, g, { K, size, win, box, probs, k }));
    o.onProgress?.(Math.min(b + o.batch, boxes.length), boxes.length);
  }
  if (weight) for (let i = 0; i < acc.length; i++) acc[i] /= weight[i % n];
  return size.some((s, i) => s > shape[i]) ? crop(acc, K, size, [0, 0, 0], shape) : acc;
}

/** Probabilities [K, ...shape] from one pass over the whole image, padded up to the divisor. */
async function wholeVolume(model: PortableModel, image: Float32Array, C: number, shape: Vec3, tta: boolean) {
  const x = model.meta.perPatchMinMax ? minMaxChannelsInPlace(Float32Array.from(image), C) : image;
  const target = shape.map((s) => Math.ceil(s / model.divisor) * model.divisor) as Vec3;
  const padded = target.some((t, i) => t > shape[i]) ? padTo(x, C, shape, target, channelMinima(x, C)) : x;
  const p = await probabilities(model, padded, [1, C, ...target], tta);
  const K = p.length / (target[0] * target[1] * target[2]);
  return target.some((t, i) => t > shape[i]) ? crop(p, K, target, [0, 0, 0], shape) : p;
}

/** Rough peak memory (bytes) of one forward pass over `voxels` voxels, as ./predict.ts estimates it. */
export const passBytes = (model: Pick<PortableModel, 'fullResolutionWidth'>, voxels: number): number =>
  voxels * model.fullResolutionWidth * 16;

/**
 * Segments one scan (a volume with the model's channels) with an exported model: the same
 * steps and settings as predictVolume on libtorch, on the runtime behind `model.forward`.
 */
export async function predictPortable(
  model: PortableModel,
  given: Volume,
  o: Partial<InferenceSettings> = {},
  onProgress?: (done: number, total: number) => void,
): Promise<Prediction> {
  const { meta } = model;
  const C = channelCount(given);
  checkChannels(meta, C);
  const s = { ...meta.inference, ...o };
  largestComponentOrgans(meta.labels, s.largestComponent); // an unknown organ name fails before the network runs
  const spacing = meta.spacing;
  const scan =
    spacing && !hasSpacing(given, spacing) ? resizeVolumeLinear(given, sizeForSpacing(given, spacing)) : given;
  const shape: Vec3 = [scan.size[2], scan.size[1], scan.size[0]];
  const x = normaliseChannels(scan, meta.normalisation);
  const padded = shape.map((n) => Math.ceil(n / model.divisor) * model.divisor);
  const wholeFits = passBytes(model, padded[0] * padded[1] * padded[2]) <= s.memoryBudgetMiB * 2 ** 20;
  const mode = s.mode === 'auto' ? (wholeFits ? 'whole' : 'window') : s.mode;
  const win: Vec3 = [meta.patchSize[2], meta.patchSize[1], meta.patchSize[0]];
  const strideXyz = s.stride ?? (meta.patchSize.map((w) => Math.max(1, Math.floor(w / 2))) as Vec3);
  const probs =
    mode === 'whole'
      ? await wholeVolume(model, x, C, shape, s.flipTta)
      : await slidingWindow(model, x, C, shape, {
          window: win,
          stride: [strideXyz[2], strideXyz[1], strideXyz[0]],
          aggregation: s.aggregation,
          batch: s.swBatch,
          tta: s.flipTta,
          perWindowMinMax: meta.perPatchMinMax,
          onProgress,
        });
  if (mode === 'whole') onProgress?.(1, 1);
  const onGiven = scan === given ? probs : mapsOnGrid(probs, scan, given);
  if (onGiven.length % voxelCount(given)) throw new ComboSegError('portable inference: probabilities off the grid');
  return predictionFrom(given, meta, onGiven, s, mode);
}
