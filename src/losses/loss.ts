// What a loss is: a function (logits, target) → scalar tensor, with its name
// and frozen options attached. Intermediates are freed inside; only the
// scalar (still on the autograd graph) comes out.
import { tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';

export interface Loss<O extends object = object> {
  (logits: Tensor, target: Tensor): Tensor;
  readonly lossName: string;
  readonly options: Readonly<O>;
}

export function makeLoss<O extends object>(
  lossName: string,
  options: Readonly<O>,
  compute: (logits: Tensor, target: Tensor) => Tensor,
): Loss<O> {
  const fn = (logits: Tensor, target: Tensor): Tensor => tidy(() => compute(logits, target));
  return Object.assign(fn, { lossName, options });
}
