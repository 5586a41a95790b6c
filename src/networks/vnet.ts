// 3-D V-Net (Milletari et al. 2016), extended to K output channels. Stages of
// 5×5×5 convolutions with PReLU (and batch norm after each convolution, as the
// combo paper does everywhere); each stage learns a residual (its input is added
// to its output; the first stage's single-channel input is broadcast to all its
// channels). Down-sampling: 2×2×2 convolution, stride 2, doubling channels.
// Up-sampling: 2×2×2 transposed convolution, stride 2, halving channels, then
// concatenation with the encoder stage of the same resolution. Defaults
// (Milletari): channels [16, 32, 64, 128, 256], encoder convolutions per stage
// [1, 2, 3, 3, 3], decoder [3, 3, 2, 1]: 65,182,325 trainable parameters for 1
// input and 5 output channels (the combo paper reports 84,938,241 for its version).
import type { Tensor } from '../engine/tensor.js';
import { add } from '../engine/ops/elementwise.js';
import { cat, expand } from '../engine/ops/shape.js';
import { Rng } from '../util/random.js';
import { Conv3d, ConvTranspose3d } from '../nn/conv.js';
import { BatchNorm3d, PReLU, Sequential } from '../nn/layers.js';
import { z } from 'zod';
import { Network, initOutputBias, convStack } from './network.js';
import { NetworkOptionsSchema, networkOptions, positiveInts } from './options.js';
import type { OnnxGraphBuilder } from '../export/onnx-builder.js';

export const VnetOptionsSchema = NetworkOptionsSchema.extend({
  channels: positiveInts(2).default([16, 32, 64, 128, 256]).describe('channels per stage, shallow to deep'),
  encoderConvs: positiveInts(2).default([1, 2, 3, 3, 3]).describe('convolutions in each encoder stage'),
  decoderConvs: positiveInts(1).default([3, 3, 2, 1]).describe('convolutions in each decoder stage, deepest first'),
  kernel: z
    .number()
    .int()
    .min(1)
    .refine((k) => k % 2 === 1, 'must be odd')
    .default(5)
    .describe('convolution kernel size (odd)'),
  residual: z.boolean().default(true).describe("add each stage's input to its output"),
})
  .strict()
  .superRefine((o, ctx) => {
    const n = o.channels.length;
    if (o.encoderConvs.length !== n || o.decoderConvs.length !== n - 1) {
      const message = `need ${n} encoderConvs and ${n - 1} decoderConvs for ${n} stages`;
      ctx.addIssue({ code: 'custom', path: ['encoderConvs'], message });
    }
  });
export type VnetOptions = z.infer<typeof VnetOptionsSchema>;

/** 2×2×2 stride-2 (transposed) convolution → batch norm → PReLU. */
function resample(kind: 'down' | 'up', cin: number, cout: number, rng: Rng): Sequential {
  const conv =
    kind === 'down'
      ? new Conv3d(cin, cout, 2, { stride: 2, rng })
      : new ConvTranspose3d(cin, cout, 2, { stride: 2, rng });
  return new Sequential(conv, new BatchNorm3d(cout), new PReLU(cout));
}

export class Vnet extends Network {
  readonly name = 'vnet';
  readonly options: Readonly<VnetOptions>;
  readonly divisor: number;
  readonly fullResolutionWidth: number;
  readonly #stages: Sequential[];
  readonly #downs: Sequential[];
  readonly #ups: Sequential[];
  readonly #decoder: Sequential[];
  readonly #head: Conv3d;

  constructor(opts: Partial<VnetOptions> = {}) {
    super();
    const o = networkOptions('vnet', VnetOptionsSchema, opts);
    const c = o.channels;
    this.options = o;
    const rng = new Rng(o.seed);
    const conv = { kernel: o.kernel, activation: 'prelu' as const };
    this.divisor = 2 ** (c.length - 1);
    this.fullResolutionWidth = 4 * c[0];
    this.#stages = c.map((ch, i) =>
      this.addModule(`encoder.${i}`, convStack(o.encoderConvs[i], i === 0 ? o.inChannels : ch, ch, rng, conv)),
    );
    this.#downs = c.slice(1).map((ch, i) => this.addModule(`down.${i}`, resample('down', c[i], ch, rng)));
    this.#ups = [];
    this.#decoder = [];
    let below = c[c.length - 1];
    for (let s = 0, i = c.length - 2; i >= 0; s++, i--) {
      this.#ups.push(this.addModule(`up.${i}`, resample('up', below, c[i], rng)));
      this.#decoder.push(this.addModule(`decoder.${i}`, convStack(o.decoderConvs[s], 2 * c[i], 2 * c[i], rng, conv)));
      below = 2 * c[i];
    }
    this.#head = this.addModule('head', initOutputBias(new Conv3d(below, o.outChannels, 1, { rng }), o.outputBias));
  }

  #residual(out: Tensor, input: Tensor): Tensor {
    if (!this.options.residual) return out;
    // The first stage's input has fewer channels: broadcast it, as Milletari does.
    return add(out, input.shape[1] === out.shape[1] ? input : expand(input.mean([1], true), out.shape));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const skips: Tensor[] = [];
    let h = x;
    this.#stages.forEach((stage, i) => {
      const input = i === 0 ? h : this.#downs[i - 1].forward(h);
      h = this.#residual(stage.forward(input), input);
      skips.push(h);
    });
    this.#decoder.forEach((stage, s) => {
      const input = cat([this.#ups[s].forward(h), skips[skips.length - 2 - s]], 1);
      h = this.#residual(stage.forward(input), input);
    });
    return this.#head.forward(h);
  }

  /** #residual in the graph: channel counts are static there, so the widths come from the options. */
  #residualOnnx(b: OnnxGraphBuilder, out: string, input: string, inWidth: number, outWidth: number): string {
    if (!this.options.residual) return out;
    // Add broadcasts the [N, 1, ...] channel mean as expand() does.
    return b.add(out, inWidth === outWidth ? input : b.reduceMean(input, [1]));
  }

  toOnnx(b: OnnxGraphBuilder, x: string): string {
    const c = this.options.channels;
    const skips: string[] = [];
    let h = x;
    this.#stages.forEach((stage, i) => {
      const input = i === 0 ? h : b.sequential(this.#downs[i - 1], h);
      const inWidth = i === 0 ? this.options.inChannels : c[i];
      h = this.#residualOnnx(b, b.sequential(stage, input), input, inWidth, c[i]);
      skips.push(h);
    });
    this.#decoder.forEach((stage, s) => {
      const input = b.concat([b.sequential(this.#ups[s], h), skips[skips.length - 2 - s]], 1);
      const width = 2 * c[c.length - 2 - s];
      h = this.#residualOnnx(b, b.sequential(stage, input), input, width, width);
    });
    return b.conv3d(this.#head, h);
  }
}
