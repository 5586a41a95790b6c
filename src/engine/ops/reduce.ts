// Reductions. `dims` undefined means all dimensions.
import { callT } from './dispatch.js';
import type { Tensor } from '../tensor-core.js';

export const sum = (a: Tensor, dims?: number[], keepDim = false): Tensor =>
  dims === undefined ? callT('aten::sum', a) : callT('aten::sum.dim_IntList', a, dims, keepDim);
export const mean = (a: Tensor, dims?: number[], keepDim = false): Tensor =>
  dims === undefined ? callT('aten::mean', a) : callT('aten::mean.dim', a, dims, keepDim);
/** Largest element (0-d). */
export const max = (a: Tensor): Tensor => callT('aten::max', a);
/** Smallest element (0-d). */
export const min = (a: Tensor): Tensor => callT('aten::min', a);
export const amax = (a: Tensor, dims: number[], keepDim = false): Tensor => callT('aten::amax', a, dims, keepDim);
export const amin = (a: Tensor, dims: number[], keepDim = false): Tensor => callT('aten::amin', a, dims, keepDim);
/** Index of the largest element along `dim` (int64). */
export const argmax = (a: Tensor, dim: number, keepDim = false): Tensor => callT('aten::argmax', a, dim, keepDim);
/** log Σ exp along `dims`, computed stably. */
export const logsumexp = (a: Tensor, dims: number[], keepDim = false): Tensor =>
  callT('aten::logsumexp', a, dims, keepDim);
