// In-place ops for optimisers and initialisers: each writes into `t` and returns `t`.
// Run them under noGrad on parameters: libtorch refuses them on leaves that require grad.
import { callT } from './dispatch.js';
import type { Tensor } from '../tensor-core.js';

type Operand = Tensor | number;

/**
 * Runs the in-place op `aten::name` (`add_`, `mul_`, `copy_`, ...) on `t` and drops the alias
 * libtorch returns. Plumbing for the functions below; prefer those.
 */
export function inPlace(t: Tensor, name: string, ...args: Operand[]): void {
  let qualified: string;
  switch (name) {
    case 'add_':
    case 'mul_':
      qualified = `aten::${name}.${typeof args[0] === 'number' ? 'Scalar' : 'Tensor'}`;
      break;
    case 'fill_':
      qualified = 'aten::fill_.Scalar';
      break;
    default:
      qualified = `aten::${name}`;
  }
  callT(qualified, t, ...args).dispose();
}

/** t += alpha · o. */
export function add_(t: Tensor, o: Operand, alpha = 1): Tensor {
  inPlace(t, 'add_', o, alpha);
  return t;
}
/** t *= o. */
export function mul_(t: Tensor, o: Operand): Tensor {
  inPlace(t, 'mul_', o);
  return t;
}
/** t = o (broadcast). */
export function copy_(t: Tensor, o: Tensor): Tensor {
  inPlace(t, 'copy_', o);
  return t;
}
/** t = 0. */
export function zero_(t: Tensor): Tensor {
  inPlace(t, 'zero_');
  return t;
}
/** t = value. */
export function fill_(t: Tensor, value: number): Tensor {
  inPlace(t, 'fill_', value);
  return t;
}
/** t += value · a · b. */
export function addcmul_(t: Tensor, a: Tensor, b: Tensor, value = 1): Tensor {
  inPlace(t, 'addcmul_', a, b, value);
  return t;
}
/** t += value · a / b. */
export function addcdiv_(t: Tensor, a: Tensor, b: Tensor, value = 1): Tensor {
  inPlace(t, 'addcdiv_', a, b, value);
  return t;
}
/** Uniform samples in [low, high) from the generator seeded by `manualSeed`. */
export function uniform_(t: Tensor, low: number, high: number): Tensor {
  inPlace(t, 'uniform_', low, high);
  return t;
}
/** Normal samples from the generator seeded by `manualSeed`. */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  inPlace(t, 'normal_', mean, std);
  return t;
}
