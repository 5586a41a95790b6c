// Shape, layout and indexing ops.
import { callT, callTs } from './dispatch.js';
import type { Tensor } from '../tensor-core.js';
import { ComboSegError } from '../errors.js';

export const reshape = (a: Tensor, shape: number[]): Tensor => callT('aten::reshape', a, shape);
/** The elements as one dimension (C order). */
export const flatten = (a: Tensor): Tensor => reshape(a, [-1]);
export const permute = (a: Tensor, dims: number[]): Tensor => callT('aten::permute', a, dims);
export const transpose = (a: Tensor, d0: number, d1: number): Tensor => callT('aten::transpose.int', a, d0, d1);
export const unsqueeze = (a: Tensor, dim: number): Tensor => callT('aten::unsqueeze', a, dim);
export const squeeze = (a: Tensor, dim: number): Tensor => callT('aten::squeeze.dim', a, dim);
export const expand = (a: Tensor, shape: number[]): Tensor => callT('aten::expand', a, shape);
export const repeat = (a: Tensor, times: number[]): Tensor => callT('aten::repeat', a, times);
export const contiguous = (a: Tensor): Tensor => callT('aten::contiguous', a);
export const clone = (a: Tensor): Tensor => callT('aten::clone', a);
/** Same data, cut from the autograd graph. */
export const detach = (a: Tensor): Tensor => callT('aten::detach', a);

/** Elements start ≤ i < end (step) along `dim`; negative indices count from the end. */
export const slice = (a: Tensor, dim: number, start: number, end: number, step = 1): Tensor =>
  callT('aten::slice.Tensor', a, dim, start, end, step);

/** Joins tensors along an existing dimension. */
export const cat = (ts: Tensor[], dim = 0): Tensor => callT('aten::cat', ts, dim);
/** Joins tensors along a new dimension. */
export const stack = (ts: Tensor[], dim = 0): Tensor => callT('aten::stack', ts, dim);
/** Splits into `chunks` near-equal pieces along `dim`. */
export const chunk = (a: Tensor, chunks: number, dim = 0): Tensor[] => callTs('aten::chunk', a, chunks, dim);
/** Reverses the order along each of `dims`. */
export const flip = (a: Tensor, dims: number[]): Tensor => callT('aten::flip', a, dims);

export type PadMode = 'constant' | 'reflect' | 'replicate';

/**
 * Pads the last dimensions. `pad` lists (before, after) pairs starting from the
 * LAST dimension, as in PyTorch: [wLo, wHi, hLo, hHi, dLo, dHi].
 */
export function pad(a: Tensor, widths: number[], mode: PadMode = 'constant', value = 0): Tensor {
  if (widths.length % 2 !== 0) {
    throw new ComboSegError(`pad(): widths must come in (before, after) pairs, got [${widths}]`, {
      code: 'invalid-input',
      path: 'widths',
    });
  }
  if (mode === 'constant') return callT('aten::constant_pad_nd', a, widths, value);
  if (widths.length !== 6 || a.rank !== 5) {
    throw new ComboSegError(
      `pad(): '${mode}' padding takes a 5-D tensor and 6 widths, got shape [${a.shape}] and [${widths}]`,
      { code: 'invalid-input' },
    );
  }
  return callT(mode === 'reflect' ? 'aten::reflection_pad3d' : 'aten::replication_pad3d', a, widths);
}

/** Integer labels (int64) → one-hot along a new last dimension. */
export const oneHot = (labels: Tensor, numClasses: number): Tensor => callT('aten::one_hot', labels, numClasses);
export const gather = (a: Tensor, dim: number, index: Tensor): Tensor => callT('aten::gather', a, dim, index);
export const indexSelect = (a: Tensor, dim: number, index: Tensor): Tensor =>
  callT('aten::index_select', a, dim, index);
/** Matrix product with broadcasting (torch.matmul). */
export const matmul = (a: Tensor, b: Tensor): Tensor => callT('aten::matmul', a, b);
