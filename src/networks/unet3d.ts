// 3-D U-Net (Çiçek et al. 2016), extended to K output channels. Encoder level i:
// conv(→ f_i) and conv(f_i → 2·f_i), each with batch norm and ReLU, then 2×2×2
// max-pooling. Decoder: 2×2×2 up-convolution (stride 2, channels kept),
// concatenation with the encoder level's output, two convs down to 2·f_i. A
// 1×1×1 convolution gives the logits. Çiçek's widths f = [32, 64, 128, 256]:
// 19,073,925 trainable parameters for 1 input and 5 output channels (the combo
// paper reports 12,226,243 for its own setting, not specified further).
import type { Tensor } from '../engine/tensor.js';
import { cat } from '../engine/ops/shape.js';
import { Rng } from '../util/random.js';
import { Conv3d, ConvTranspose3d } from '../nn/conv.js';
import { MaxPool3d, Sequential, Upsample } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { z } from 'zod';
import { Network, initOutputBias, convBlock, convStack } from './network.js';
import { NetworkOptionsSchema, networkOptions, positiveInts } from './options.js';
import type { OnnxGraphBuilder } from '../export/onnx-builder.js';

export const UnetUpsamplingSchema = z
  .enum(['transposed', 'nearest', 'trilinear'])
  .describe("'transposed': learned 2×2×2 up-convolution (Çiçek); 'nearest' / 'trilinear': parameter-free");
export type UnetUpsampling = z.infer<typeof UnetUpsamplingSchema>;

export const Unet3dOptionsSchema = NetworkOptionsSchema.extend({
  channels: positiveInts(2)
    .default([32, 64, 128, 256])
    .describe('f_i per level; each encoder level ends with 2·f_i channels'),
  upsampling: UnetUpsamplingSchema.default('transposed'),
}).strict();
export type Unet3dOptions = z.infer<typeof Unet3dOptionsSchema>;

export class Unet3d extends Network {
  readonly name = 'unet3d';
  readonly options: Readonly<Unet3dOptions>;
  readonly divisor: number;
  readonly fullResolutionWidth: number;
  readonly #encoder: Sequential[];
  readonly #ups: Module[];
  readonly #decoder: Sequential[];
  readonly #pool = new MaxPool3d(2);
  readonly #head: Conv3d;

  constructor(opts: Partial<Unet3dOptions> = {}) {
    super();
    const o = networkOptions('unet3d', Unet3dOptionsSchema, opts);
    this.options = o;
    const rng = new Rng(o.seed);
    const f = o.channels;
    const out = f.map((fi) => 2 * fi); // channels leaving each encoder level
    this.divisor = 2 ** (f.length - 1);
    // The concatenation of up-sampled and skip features at full resolution.
    this.fullResolutionWidth = 6 * f[0];
    this.#encoder = f.map((fi, i) =>
      this.addModule(
        `encoder.${i}`,
        new Sequential(convBlock(i === 0 ? o.inChannels : out[i - 1], fi, rng), convBlock(fi, 2 * fi, rng)),
      ),
    );
    this.#ups = [];
    this.#decoder = [];
    for (let i = f.length - 2; i >= 0; i--) {
      const below = i === f.length - 2 ? out[f.length - 1] : out[i + 1];
      this.#ups.push(
        this.addModule(
          `up.${i}`,
          o.upsampling === 'transposed'
            ? new ConvTranspose3d(below, below, 2, { stride: 2, rng })
            : new Upsample(2, o.upsampling),
        ),
      );
      this.#decoder.push(this.addModule(`decoder.${i}`, convStack(2, below + out[i], out[i], rng)));
    }
    this.#head = this.addModule('head', initOutputBias(new Conv3d(out[0], o.outChannels, 1, { rng }), o.outputBias));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const skips: Tensor[] = [];
    let h = x;
    this.#encoder.forEach((level, i) => {
      h = level.forward(i === 0 ? h : this.#pool.forward(h));
      skips.push(h);
    });
    this.#decoder.forEach((level, k) => {
      const skip = skips[skips.length - 2 - k];
      h = level.forward(cat([this.#ups[k].forward(h) as Tensor, skip], 1));
    });
    return this.#head.forward(h);
  }

  toOnnx(b: OnnxGraphBuilder, x: string): string {
    const skips: string[] = [];
    let h = x;
    this.#encoder.forEach((level, i) => {
      h = b.sequential(level, i === 0 ? h : b.maxPool3d(this.#pool, h));
      skips.push(h);
    });
    this.#decoder.forEach((level, k) => {
      const skip = skips[skips.length - 2 - k];
      // #ups[k]: a transposed convolution or an Upsample, by the `upsampling` option.
      h = b.sequential(level, b.concat([b.layer(this.#ups[k], h), skip], 1));
    });
    return b.conv3d(this.#head, h);
  }
}
