// Neural-network ops on [N, C, D, H, W] tensors: convolutions, normalisation,
// pooling, up-sampling, softmax.
import { callT, callTs } from './dispatch.js';
import { Tensor } from '../tensor-core.js';
import { native, type TensorHandle } from '../native.js';
import { ComboSegError, rethrowNative } from '../errors.js';
import { computePrecision, fp32Input, type Precision } from '../precision.js';

export type Triple = number | [number, number, number];

/**
 * Which implementation runs a convolution. 'onednn' (default for float32):
 * oneDNN forward and backward, whatever the sizes. 'stock': libtorch's own
 * choice, which for batch 1 and small N·C·D·H is a slow native kernel.
 */
export type ConvBackend = 'onednn' | 'stock';

export interface Conv3dOptions {
  stride?: Triple;
  padding?: Triple;
  dilation?: Triple;
  groups?: number;
  backend?: ConvBackend;
  /** 'bf16': bfloat16 compute and output (master weights stay float32); default: computePrecision(). */
  precision?: Precision;
}

const triple = (v: Triple): number[] => (typeof v === 'number' ? [v, v, v] : v);

let dnnlLayers: boolean | null = null;
/**
 * Whether a bf16 activation's batch norm, max pooling and nearest up-sampling run on oneDNN's own
 * API (channels-last, as the bf16 convolutions write them; Debian's build), else through libtorch.
 */
function bf16Layers(x: Tensor): boolean {
  if (x.dtype !== 'bfloat16' || x.device !== 'cpu') return false;
  dnnlLayers ??= native.buildInfo().bf16ConvPath === 'onednn-api';
  return dnnlLayers;
}

function nativeOp(what: string, fn: () => TensorHandle): Tensor {
  try {
    return new Tensor(fn());
  } catch (e) {
    rethrowNative(e, what);
  }
}

function check5d(x: Tensor, what: string): void {
  if (x.rank !== 5) {
    throw new ComboSegError(`${what}: expected a 5-D [N, C, D, H, W] tensor, got shape [${x.shape}]`, {
      code: 'invalid-input',
    });
  }
}

/** 3-D convolution. x [N, Cin, D, H, W], w [Cout, Cin/groups, kD, kH, kW], bias [Cout] or null. */
export function conv3d(x: Tensor, w: Tensor, bias: Tensor | null = null, o: Conv3dOptions = {}): Tensor {
  check5d(x, 'conv3d');
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = o;
  if ((o.precision ?? computePrecision()) === 'bf16') {
    try {
      return new Tensor(native.conv3dBf16(x.handle, w.handle, bias?.handle ?? null, stride, padding, dilation, groups));
    } catch (e) {
      rethrowNative(e, 'conv3d');
    }
  }
  x = fp32Input(x);
  const backend = o.backend ?? (x.dtype === 'float32' ? 'onednn' : 'stock');
  if (backend === 'stock') return callT('aten::conv3d', x, w, bias, stride, padding, dilation, groups);
  try {
    return new Tensor(native.conv3d(x.handle, w.handle, bias?.handle ?? null, stride, padding, dilation, groups));
  } catch (e) {
    rethrowNative(e, 'conv3d');
  }
}

export interface ConvTranspose3dOptions extends Conv3dOptions {
  outputPadding?: Triple;
}

/** Transposed 3-D convolution. x [N, Cin, D, H, W], w [Cin, Cout/groups, kD, kH, kW], bias [Cout] or null. */
export function convTranspose3d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null = null,
  o: ConvTranspose3dOptions = {},
): Tensor {
  check5d(x, 'convTranspose3d');
  const { stride = 1, padding = 0, dilation = 1, groups = 1, outputPadding = 0 } = o;
  const bf16 = (o.precision ?? computePrecision()) === 'bf16';
  if (!bf16) x = fp32Input(x);
  const backend = o.backend ?? (x.dtype === 'float32' ? 'onednn' : 'stock');
  if (backend === 'stock' && !bf16) {
    return callT('aten::conv_transpose3d.input', x, w, bias, stride, padding, outputPadding, groups, dilation);
  }
  try {
    return new Tensor(
      native[bf16 ? 'convTranspose3dBf16' : 'convTranspose3d'](
        x.handle,
        w.handle,
        bias?.handle ?? null,
        stride,
        padding,
        dilation,
        groups,
        outputPadding,
      ),
    );
  } catch (e) {
    rethrowNative(e, 'convTranspose3d');
  }
}

/**
 * Batch normalisation over dim 1. In training mode it normalises with the batch
 * statistics and updates `runningMean`/`runningVar` in place (momentum as in
 * PyTorch: new = (1 − m)·old + m·batch); in eval mode it uses them.
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  training: boolean,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  // oneDNN 2.6's jit batch norm on channels-last bf16 wants whole 16-channel blocks; with fewer it
  // falls back to its reference code (~100× slower): libtorch's kernel on a plain copy is faster.
  if (bf16Layers(x) && x.shape[1] % 16 === 0 && weight && bias && runningMean && runningVar) {
    const h = [x, weight, bias, runningMean, runningVar].map((t) => t.handle);
    return nativeOp('batchNorm', () => native.batchNormBf16(h[0], h[1], h[2], h[3], h[4], training, momentum, eps));
  }
  // libtorch's bf16 batch norm is fast on plain tensors only.
  const xin = x.dtype === 'bfloat16' ? x.contiguous() : x;
  return callT('aten::batch_norm', xin, weight, bias, runningMean, runningVar, training, momentum, eps, false);
}

/** Max-pooling that also returns the argmax indices (for max-unpooling). */
export function maxPool3dWithIndices(
  x: Tensor,
  kernel: Triple,
  stride?: Triple,
  padding: Triple = 0,
): [Tensor, Tensor] {
  check5d(x, 'maxPool3dWithIndices');
  const [out, idx] = callTs('aten::max_pool3d_with_indices', fp32Input(x), kernel, stride ?? kernel, padding);
  return [out, idx];
}

export function maxPool3d(x: Tensor, kernel: Triple, stride?: Triple, padding: Triple = 0): Tensor {
  check5d(x, 'maxPool3d');
  if (bf16Layers(x) && triple(padding).every((p) => p === 0)) {
    return nativeOp('maxPool3d', () => native.maxPool3dBf16(x.handle, kernel, stride ?? kernel));
  }
  return callT('aten::max_pool3d', fp32Input(x), kernel, stride ?? kernel, padding);
}

/** Places each value at its pooling index in a zero tensor of spatial size `outputSize`. */
export function maxUnpool3d(
  x: Tensor,
  indices: Tensor,
  outputSize: [number, number, number],
  stride: Triple,
  padding: Triple = 0,
): Tensor {
  check5d(x, 'maxUnpool3d');
  return callT('aten::max_unpool3d', fp32Input(x), indices, outputSize, stride, padding);
}

export type Upsampling = { size: [number, number, number] } | { scale: number | [number, number, number] };

function scales(u: Upsampling): [number[] | null, number[] | null] {
  if ('size' in u) return [u.size, null];
  const s = typeof u.scale === 'number' ? [u.scale, u.scale, u.scale] : u.scale;
  return [null, s];
}

/** Nearest-neighbour up-sampling to a size or by a scale. */
export function upsampleNearest3d(x: Tensor, u: Upsampling): Tensor {
  check5d(x, 'upsampleNearest3d');
  const [size, scale] = scales(u);
  const spatial = x.shape.slice(2);
  const target = size ?? spatial.map((n, i) => Math.floor(n * (scale ?? [1, 1, 1])[i]));
  // oneDNN's nearest rule is libtorch's for whole-number factors (libtorch uses 1/scale when given one).
  const whole = scale ? scale.every((f) => Number.isInteger(f)) : target.every((n, i) => n % spatial[i] === 0);
  if (bf16Layers(x) && whole) {
    return nativeOp('upsampleNearest3d', () => native.upsampleNearest3dBf16(x.handle, target));
  }
  return callT('aten::upsample_nearest3d.vec', x.dtype === 'bfloat16' ? x.contiguous() : x, size, scale);
}

/** Trilinear up-sampling to a size or by a scale. */
export function upsampleTrilinear3d(x: Tensor, u: Upsampling, alignCorners = false): Tensor {
  check5d(x, 'upsampleTrilinear3d');
  const [size, scale] = scales(u);
  return callT('aten::upsample_trilinear3d.vec', fp32Input(x), size, alignCorners, scale);
}

export const softmax = (x: Tensor, dim: number): Tensor => callT('aten::softmax.int', x, dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => callT('aten::log_softmax.int', x, dim);
/** Dropout with probability p when `training`; identity otherwise. */
export const dropout = (x: Tensor, p: number, training: boolean): Tensor => callT('aten::dropout', x, p, training);

export type LossReduction = 'none' | 'mean' | 'sum';
const REDUCTION_CODE: Record<LossReduction, number> = { none: 0, mean: 1, sum: 2 };

/** Binary cross entropy from logits, computed stably by libtorch (−[t·log σ(x) + (1−t)·log(1−σ(x))]). */
export function bceWithLogits(logits: Tensor, target: Tensor, reduction: LossReduction = 'mean'): Tensor {
  return callT('aten::binary_cross_entropy_with_logits', logits, target, null, null, REDUCTION_CODE[reduction]);
}
