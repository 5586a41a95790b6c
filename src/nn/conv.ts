// 3-D convolution layers, on the oneDNN path (forward and backward) by default.
import type { Tensor } from '../engine/tensor.js';
import { conv3d, convTranspose3d, type Triple } from '../engine/ops/nn.js';
import { Rng } from '../util/random.js';
import { Module } from './module.js';
import { constant, glorotUniform } from './init.js';

export interface ConvOptions {
  stride?: Triple;
  padding?: Triple;
  dilation?: Triple;
  bias?: boolean;
  /** Generator for the Glorot initialisation (default: seed 0). */
  rng?: Rng;
}

const triple = (v: Triple): [number, number, number] => (typeof v === 'number' ? [v, v, v] : v);

/** Observes every convolution a layer runs (benchmarks use it to time convolutions alone). */
export type ConvObserver = (kind: 'conv' | 'transposed', x: Tensor, layer: Conv3d | ConvTranspose3d) => void;
let observer: ConvObserver | null = null;
export function observeConvolutions(cb: ConvObserver | null): void {
  observer = cb;
}

/** Conv3d: weight [out, in, k, k, k], optional bias; "same" padding is up to the caller (padding: (k−1)/2). */
export class Conv3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number, number];
  readonly padding: [number, number, number];
  readonly dilation: [number, number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: Triple,
    o: ConvOptions = {},
  ) {
    super();
    const k = triple(kernel);
    this.stride = triple(o.stride ?? 1);
    this.padding = triple(o.padding ?? 0);
    this.dilation = triple(o.dilation ?? 1);
    this.weight = this.addParameter('weight', glorotUniform([outChannels, inChannels, ...k], o.rng ?? new Rng(0)));
    this.bias = o.bias === false ? null : this.addParameter('bias', constant([outChannels], 0));
  }

  forward(x: Tensor): Tensor {
    observer?.('conv', x, this);
    return conv3d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation });
  }
}

/** ConvTranspose3d: weight [in, out, k, k, k], optional bias. */
export class ConvTranspose3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number, number];
  readonly padding: [number, number, number];
  readonly outputPadding: [number, number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: Triple,
    o: ConvOptions & { outputPadding?: Triple } = {},
  ) {
    super();
    const k = triple(kernel);
    this.stride = triple(o.stride ?? 1);
    this.padding = triple(o.padding ?? 0);
    this.outputPadding = triple(o.outputPadding ?? 0);
    this.weight = this.addParameter('weight', glorotUniform([inChannels, outChannels, ...k], o.rng ?? new Rng(0)));
    this.bias = o.bias === false ? null : this.addParameter('bias', constant([outChannels], 0));
  }

  forward(x: Tensor): Tensor {
    observer?.('transposed', x, this);
    return convTranspose3d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
    });
  }
}
