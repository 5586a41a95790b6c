// Tensors made from a shape: constants, ranges and seeded random samples.
import { callT } from './dispatch.js';
import type { Tensor } from '../tensor-core.js';
import { SCALAR_TYPE, type DType } from '../dtype.js';

export const zeros = (shape: number[], dtype: DType = 'float32'): Tensor =>
  callT('aten::zeros', shape, SCALAR_TYPE[dtype]);
export const ones = (shape: number[], dtype: DType = 'float32'): Tensor =>
  callT('aten::ones', shape, SCALAR_TYPE[dtype]);
export const full = (shape: number[], value: number, dtype: DType = 'float32'): Tensor =>
  callT('aten::full', shape, value, SCALAR_TYPE[dtype]);
export const zerosLike = (a: Tensor): Tensor => callT('aten::zeros_like', a);
export const onesLike = (a: Tensor): Tensor => callT('aten::ones_like', a);
/** start, start+step, ... < end. */
export const arange = (start: number, end: number, step = 1, dtype: DType = 'float32'): Tensor =>
  callT('aten::arange.start_step', start, end, step, SCALAR_TYPE[dtype]);
/** Uniform samples in [0, 1) from the generator seeded by `manualSeed`. */
export const rand = (shape: number[], dtype: DType = 'float32'): Tensor =>
  callT('aten::rand', shape, SCALAR_TYPE[dtype]);
/** Standard normal samples from the generator seeded by `manualSeed`. */
export const randn = (shape: number[], dtype: DType = 'float32'): Tensor =>
  callT('aten::randn', shape, SCALAR_TYPE[dtype]);
