// The paper's network (§II, Fig. 1; ../shared/SPEC.md §3): a plain 3-D
// encoder–decoder with NO skip connections. Each level: `convsPerLevel` ×
// (3×3×3 conv → batch norm → ReLU); 2×2×2 max-pooling down, 2×2×2 up-sampling
// up, a 1×1×1 convolution to K output channels (logits; the loss applies the sigmoid).
//
// Default widths [32, 64, 128, 256, 312] with 2 convolutions per level give
// 13,972,629 trainable parameters for 1 input and 5 output channels (the paper:
// 13,997,827, whose exact widths Fig. 1 does not state). Counted: convolution
// weights and biases, batch-norm scale and shift; not the running statistics.
import type { Tensor } from '../engine/tensor.js';
import { Rng } from '../util/random.js';
import { Conv3d } from '../nn/conv.js';
import { MaxPool3d, Upsample } from '../nn/layers.js';
import type { Sequential } from '../nn/layers.js';
import { z } from 'zod';
import { Network, initOutputBias, convStack } from './network.js';
import { NetworkOptionsSchema, networkOptions, positiveInts } from './options.js';
import type { OnnxGraphBuilder } from '../export/onnx-builder.js';

export const ProposedOptionsSchema = NetworkOptionsSchema.extend({
  channels: positiveInts(2).default([32, 64, 128, 256, 312]).describe('channels per level, shallow to deep'),
  convsPerLevel: z.number().int().min(1).default(2).describe('3×3×3 convolutions per level (encoder and decoder)'),
  upsampling: z
    .enum(['nearest', 'trilinear'])
    .default('nearest')
    .describe("2×2×2 up-sampling ('nearest' is Keras' UpSampling3D)"),
}).strict();
export type ProposedOptions = z.infer<typeof ProposedOptionsSchema>;

export class ProposedNet extends Network {
  readonly name = 'proposed';
  readonly options: Readonly<ProposedOptions>;
  readonly divisor: number;
  readonly fullResolutionWidth: number;
  readonly #encoder: Sequential[];
  readonly #decoder: Sequential[];
  readonly #pool = new MaxPool3d(2);
  readonly #up: Upsample;
  readonly #head: Conv3d;

  constructor(opts: Partial<ProposedOptions> = {}) {
    super();
    const o = networkOptions('proposed', ProposedOptionsSchema, opts);
    this.options = o;
    const rng = new Rng(o.seed);
    const c = o.channels;
    this.divisor = 2 ** (c.length - 1);
    this.fullResolutionWidth = c[0];
    this.#encoder = c.map((ch, i) =>
      this.addModule(`encoder.${i}`, convStack(o.convsPerLevel, i === 0 ? o.inChannels : c[i - 1], ch, rng)),
    );
    this.#decoder = c
      .slice(0, -1)
      .map((ch, i) => this.addModule(`decoder.${i}`, convStack(o.convsPerLevel, c[i + 1], ch, rng)))
      .reverse();
    this.#up = new Upsample(2, o.upsampling);
    this.#head = this.addModule('head', initOutputBias(new Conv3d(c[0], o.outChannels, 1, { rng }), o.outputBias));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    let h = x;
    this.#encoder.forEach((level, i) => {
      h = level.forward(i === 0 ? h : this.#pool.forward(h));
    });
    for (const level of this.#decoder) h = level.forward(this.#up.forward(h));
    return this.#head.forward(h);
  }

  toOnnx(b: OnnxGraphBuilder, x: string): string {
    let h = x;
    this.#encoder.forEach((level, i) => {
      h = b.sequential(level, i === 0 ? h : b.maxPool3d(this.#pool, h));
    });
    for (const level of this.#decoder) h = b.sequential(level, b.upsample(this.#up, h));
    return b.conv3d(this.#head, h);
  }
}
