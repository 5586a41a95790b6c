// What every network shares: a name, its options, the input-size multiple its
// down-sampling needs, and an input check that says what is wrong.
import type { Tensor } from '../engine/tensor.js';
import { ComboSegError } from '../engine/errors.js';
import { Module } from '../nn/module.js';
import { BatchNorm3d, PReLU, ReLU, Sequential } from '../nn/layers.js';
import { Conv3d } from '../nn/conv.js';
import type { Rng } from '../util/random.js';
import { noGrad } from '../engine/autograd.js';
import { withPrecision, type Precision } from '../engine/precision.js';
import type { NetworkOptions } from './options.js';
import type { OnnxGraphBuilder } from '../export/onnx-builder.js';

export type { NetworkOptions } from './options.js';

export abstract class Network extends Module {
  abstract readonly name: string;
  abstract readonly options: Readonly<NetworkOptions>;
  /** Each spatial size of the input must be a multiple of this (2^number of down-samplings). */
  abstract readonly divisor: number;
  /** Channels of the widest full-resolution activation: what sizes a whole-volume pass's memory. */
  abstract readonly fullResolutionWidth: number;

  /** What run() computes in: 'fp32', or 'bf16' mixed precision (engine/precision.ts); weights stay float32. */
  precision: Precision = 'fp32';

  /** [B, inChannels, D, H, W] → logits [B, outChannels, D, H, W], in the current compute precision. */
  abstract override forward(x: Tensor): Tensor;

  /**
   * Emits forward()'s computation into an ONNX graph (evaluation mode): `x` names the input value,
   * the name of the logits comes back. Mirrors forward() layer for layer (src/export/onnx.ts).
   */
  abstract toOnnx(b: OnnxGraphBuilder, x: string): string;

  /** forward() in this network's precision; the logits come back in float32 for the loss and the metrics. */
  run(x: Tensor): Tensor {
    if (this.precision === 'fp32') return this.forward(x);
    const y = withPrecision(this.precision, () => this.forward(x));
    // Plain float32: the losses' reductions and the sliding window's accumulators expect it.
    return y.dtype === 'float32' ? y : y.cast('float32').contiguous();
  }

  protected checkInput(x: Tensor): void {
    if (x.rank !== 5) throw new ComboSegError(`${this.name}: expected input [B, C, D, H, W], got shape [${x.shape}]`);
    if (x.shape[1] !== this.options.inChannels) {
      throw new ComboSegError(
        `${this.name}: input has ${x.shape[1]} channel(s), the network was built for ${this.options.inChannels}`,
      );
    }
    const bad = x.shape.slice(2).filter((s) => s % this.divisor !== 0);
    if (bad.length) {
      throw new ComboSegError(
        `${this.name}: spatial size [${x.shape.slice(2)}] must be a multiple of ${this.divisor} on every axis ` +
          `(the network down-samples ${Math.log2(this.divisor)} times); ` +
          'pad the input, as sliding-window inference does',
      );
    }
  }
}

/** Sets the output convolution's initial bias. */
export function initOutputBias(head: Conv3d, bias: number): Conv3d {
  if (bias !== 0) noGrad(() => head.bias?.fill_(bias));
  return head;
}

/** conv k×k×k ('same' padding) → batch norm → ReLU or PReLU. */
export function convBlock(
  cin: number,
  cout: number,
  rng: Rng,
  o: { kernel?: number; activation?: 'relu' | 'prelu' } = {},
): Sequential {
  const k = o.kernel ?? 3;
  return new Sequential(
    new Conv3d(cin, cout, k, { padding: (k - 1) / 2, rng }),
    new BatchNorm3d(cout),
    o.activation === 'prelu' ? new PReLU(cout) : new ReLU(),
  );
}

/** n conv blocks in a row, the first from cin channels, the rest cout → cout. */
export function convStack(
  n: number,
  cin: number,
  cout: number,
  rng: Rng,
  o: { kernel?: number; activation?: 'relu' | 'prelu' } = {},
): Sequential {
  return new Sequential(...Array.from({ length: n }, (_, i) => convBlock(i === 0 ? cin : cout, cout, rng, o)));
}
