// 3-D SegNet (Badrinarayanan et al., in 3-D): an encoder–decoder without skip
// connections whose decoder up-samples by max-unpooling with the encoder's
// pooling indices. Encoder level i: `convsPerLevel` × (3×3×3 conv → BN → ReLU),
// then 2×2×2 max-pooling that keeps its indices. Decoder level i: unpool with
// level i's indices, then the convolutions in reverse, the last one narrowing to
// level i−1's width. A 1×1×1 convolution gives the logits.
import type { Tensor } from '../engine/tensor.js';
import { Rng } from '../util/random.js';
import { Conv3d } from '../nn/conv.js';
import { MaxPool3d, MaxUnpool3d, Sequential } from '../nn/layers.js';
import { z } from 'zod';
import { Network, initOutputBias, convBlock, convStack } from './network.js';
import { NetworkOptionsSchema, networkOptions, positiveInts } from './options.js';
import type { OnnxGraphBuilder } from '../export/onnx-builder.js';

export const Segnet3dOptionsSchema = NetworkOptionsSchema.extend({
  channels: positiveInts(1).default([32, 64, 128, 256]).describe('channels per level'),
  convsPerLevel: z.number().int().min(1).default(2).describe('convolutions per level'),
}).strict();
export type Segnet3dOptions = z.infer<typeof Segnet3dOptionsSchema>;

export class Segnet3d extends Network {
  readonly name = 'segnet3d';
  readonly options: Readonly<Segnet3dOptions>;
  readonly divisor: number;
  readonly fullResolutionWidth: number;
  readonly #encoder: Sequential[];
  readonly #decoder: Sequential[];
  readonly #pool = new MaxPool3d(2);
  readonly #unpool = new MaxUnpool3d(2);
  readonly #head: Conv3d;

  constructor(opts: Partial<Segnet3dOptions> = {}) {
    super();
    const o = networkOptions('segnet3d', Segnet3dOptionsSchema, opts);
    this.options = o;
    const rng = new Rng(o.seed);
    const c = o.channels,
      n = o.convsPerLevel;
    this.divisor = 2 ** c.length;
    this.fullResolutionWidth = c[0];
    this.#encoder = c.map((ch, i) =>
      this.addModule(`encoder.${i}`, convStack(n, i === 0 ? o.inChannels : c[i - 1], ch, rng)),
    );
    this.#decoder = c
      .map((ch, i) => {
        const narrowTo = i === 0 ? c[0] : c[i - 1];
        const blocks = Array.from({ length: n }, (_, j) => convBlock(ch, j === n - 1 ? narrowTo : ch, rng));
        return this.addModule(`decoder.${i}`, new Sequential(...blocks));
      })
      .reverse();
    this.#head = this.addModule('head', initOutputBias(new Conv3d(c[0], o.outChannels, 1, { rng }), o.outputBias));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const pools: { indices: Tensor; size: [number, number, number] }[] = [];
    let h = x;
    for (const level of this.#encoder) {
      h = level.forward(h);
      const size = h.shape.slice(2) as [number, number, number];
      const [pooled, indices] = this.#pool.forwardWithIndices(h);
      pools.push({ indices, size });
      h = pooled;
    }
    this.#decoder.forEach((level, k) => {
      const { indices, size } = pools[pools.length - 1 - k];
      h = level.forward(this.#unpool.forward(h, indices, size));
    });
    return this.#head.forward(h);
  }

  toOnnx(b: OnnxGraphBuilder, x: string): string {
    // The pre-pool value stands for its size: MaxUnpool reads the output shape from it.
    const pools: { indices: string; before: string }[] = [];
    let h = x;
    for (const level of this.#encoder) {
      h = b.sequential(level, h);
      const [pooled, indices] = b.maxPool3dWithIndices(this.#pool, h);
      pools.push({ indices, before: h });
      h = pooled;
    }
    this.#decoder.forEach((level, k) => {
      const { indices, before } = pools[pools.length - 1 - k];
      h = b.sequential(level, b.maxUnpool3d(this.#unpool, h, indices, before));
    });
    return b.conv3d(this.#head, h);
  }
}
