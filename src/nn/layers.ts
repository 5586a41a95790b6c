// Normalisation, activation, pooling, up-sampling and a sequential container.
import type { Tensor } from '../engine/tensor.js';
import {
  batchNorm,
  maxPool3d,
  maxPool3dWithIndices,
  maxUnpool3d,
  upsampleNearest3d,
  upsampleTrilinear3d,
  type Triple,
} from '../engine/ops/nn.js';
import { prelu, relu } from '../engine/ops/elementwise.js';
import { ComboSegError } from '../engine/errors.js';
import { Module } from './module.js';
import { syncBatchNorm } from './sync-batchnorm.js';
import { acrossRanksActive } from '../engine/collective.js';
import { constant } from './init.js';

/** Batch normalisation over channels with running statistics (PyTorch's momentum convention). */
export class BatchNorm3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.addParameter('weight', constant([channels], 1));
    this.bias = this.addParameter('bias', constant([channels], 0));
    this.runningMean = this.addBuffer('running_mean', constant([channels], 0));
    this.runningVar = this.addBuffer('running_var', constant([channels], 1));
  }

  /**
   * Statistics over all data-parallel ranks in training (set by the distributed trainer under
   * --sync-bn); without a process group this is plain batch norm.
   */
  sync = false;

  forward(x: Tensor): Tensor {
    if (this.sync && this.training && acrossRanksActive()) {
      const { weight, bias, runningMean, runningVar, momentum, eps } = this;
      return syncBatchNorm(x, weight, bias, runningMean, runningVar, momentum, eps);
    }
    return batchNorm(
      x,
      this.weight,
      this.bias,
      this.runningMean,
      this.runningVar,
      this.training,
      this.momentum,
      this.eps,
    );
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** PReLU with one learned slope per channel (or one shared), initialised to 0.25. */
export class PReLU extends Module {
  readonly weight: Tensor;
  constructor(channels = 1, init = 0.25) {
    super();
    this.weight = this.addParameter('weight', constant([channels], init));
  }
  forward(x: Tensor): Tensor {
    return prelu(x, this.weight);
  }
}

export class MaxPool3d extends Module {
  constructor(
    readonly kernel: Triple = 2,
    readonly stride: Triple = kernel,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool3d(x, this.kernel, this.stride);
  }
  /** Pooled values and the argmax indices that MaxUnpool3d needs. */
  forwardWithIndices(x: Tensor): [Tensor, Tensor] {
    return maxPool3dWithIndices(x, this.kernel, this.stride);
  }
}

export class MaxUnpool3d extends Module {
  constructor(
    readonly kernel: Triple = 2,
    readonly stride: Triple = kernel,
  ) {
    super();
  }
  /** Places values at `indices` in a zero volume of spatial size `size`. */
  forward(x: Tensor, indices?: Tensor, size?: [number, number, number]): Tensor {
    if (!indices || !size) throw new ComboSegError('MaxUnpool3d.forward needs the pooling indices and the output size');
    return maxUnpool3d(x, indices, size, this.stride);
  }
}

export type UpsampleMode = 'nearest' | 'trilinear';

export class Upsample extends Module {
  constructor(
    readonly scale = 2,
    readonly mode: UpsampleMode = 'nearest',
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.mode === 'nearest'
      ? upsampleNearest3d(x, { scale: this.scale })
      : upsampleTrilinear3d(x, { scale: this.scale });
  }
}

/** Runs child modules in order. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.addModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h) as Tensor;
    return h;
  }
}
