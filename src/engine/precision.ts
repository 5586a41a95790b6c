// Compute precision: 'fp32', or 'bf16' mixed precision as PyTorch's autocast does it. Inside
// withPrecision('bf16', …) convolutions (transposed too) take bfloat16 inputs and the master
// weights cast on the way in, and return bfloat16; batch norm takes the bf16 activations with its
// float32 affine parameters and running statistics (accumulated in float32); ReLU, PReLU, max
// pooling, nearest up-sampling and concatenation keep bf16; pooling with indices, unpooling and
// trilinear up-sampling run in float32 (libtorch 1.13 has no bf16 CPU kernel for them). On
// Debian's build the bf16 activations are channels-last and convolutions, batch norm, max pooling
// and nearest up-sampling run on oneDNN's own API (native/src/conv_dnnl.cc, layers_dnnl.cc).
// Losses, metrics, optimiser state and checkpoints stay float32: a network's run() returns plain
// float32 logits. The setting is per thread (one JS thread per worker), like libtorch's autocast.
import { z } from 'zod';
import type { Tensor } from './tensor-core.js';

export type Precision = 'fp32' | 'bf16';

export const PrecisionSchema = z
  .enum(['auto', 'fp32', 'bf16'])
  .describe("'fp32', 'bf16' (mixed precision), or 'auto': whichever a measurement on this CPU finds faster");
export type PrecisionSetting = z.infer<typeof PrecisionSchema>;

let current: Precision = 'fp32';

/** The precision convolutions compute in here and now. */
export function computePrecision(): Precision {
  return current;
}

/** Runs fn with convolutions computing in `p`, restoring the previous precision afterwards (also on throw). */
export function withPrecision<T>(p: Precision, fn: () => T): T {
  const prev = current;
  current = p;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** `x` in plain float32 if it is bfloat16 (for ops that have no bf16 kernel), else `x` itself. */
export function fp32Input(x: Tensor): Tensor {
  // bf16 activations may be channels-last, where libtorch 1.13's pooling is slow: make them plain.
  return x.dtype === 'bfloat16' ? x.cast('float32').contiguous() : x;
}
