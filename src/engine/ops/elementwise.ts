// Elementwise arithmetic, activations, comparisons and selection.
import { callT } from './dispatch.js';
import type { Tensor } from '../tensor-core.js';
import { SCALAR_TYPE, type DType } from '../dtype.js';

type Operand = Tensor | number;
const isNum = (v: Operand): v is number => typeof v === 'number';

/** a + b (broadcasting). */
export const add = (a: Tensor, b: Operand): Tensor =>
  isNum(b) ? callT('aten::add.Scalar', a, b) : callT('aten::add.Tensor', a, b);
/** a − b (broadcasting). */
export const sub = (a: Tensor, b: Operand): Tensor =>
  isNum(b) ? callT('aten::sub.Scalar', a, b) : callT('aten::sub.Tensor', a, b);
/** a · b (broadcasting). */
export const mul = (a: Tensor, b: Operand): Tensor =>
  isNum(b) ? callT('aten::mul.Scalar', a, b) : callT('aten::mul.Tensor', a, b);
/** a / b (broadcasting, true division). */
export const div = (a: Tensor, b: Operand): Tensor =>
  isNum(b) ? callT('aten::div.Scalar', a, b) : callT('aten::div.Tensor', a, b);
/** a ^ e. */
export const pow = (a: Tensor, e: Operand): Tensor =>
  isNum(e) ? callT('aten::pow.Tensor_Scalar', a, e) : callT('aten::pow.Tensor_Tensor', a, e);
/** c − a: for `1 - p` and the like. */
export const rsub = (a: Tensor, c: number): Tensor => callT('aten::rsub.Scalar', a, c);

export const neg = (a: Tensor): Tensor => callT('aten::neg', a);
export const exp = (a: Tensor): Tensor => callT('aten::exp', a);
export const log = (a: Tensor): Tensor => callT('aten::log', a);
export const log1p = (a: Tensor): Tensor => callT('aten::log1p', a);
export const sqrt = (a: Tensor): Tensor => callT('aten::sqrt', a);
/** a · a. */
export const square = (a: Tensor): Tensor => mul(a, a);
export const rsqrt = (a: Tensor): Tensor => callT('aten::rsqrt', a);
export const abs = (a: Tensor): Tensor => callT('aten::abs', a);
export const sign = (a: Tensor): Tensor => callT('aten::sign', a);
export const floor = (a: Tensor): Tensor => callT('aten::floor', a);
export const round = (a: Tensor): Tensor => callT('aten::round', a);
export const tanh = (a: Tensor): Tensor => callT('aten::tanh', a);
export const minimum = (a: Tensor, b: Tensor): Tensor => callT('aten::minimum', a, b);
export const maximum = (a: Tensor, b: Tensor): Tensor => callT('aten::maximum', a, b);

/** 1 / (1 + e^−x). */
export const sigmoid = (a: Tensor): Tensor => callT('aten::sigmoid', a);
/** log σ(x), computed stably (no log of 0 for large negative x). */
export const logSigmoid = (a: Tensor): Tensor => callT('aten::log_sigmoid', a);
/** log(1 + e^x) (β = 1). */
export const softplus = (a: Tensor): Tensor => callT('aten::softplus', a);
export const relu = (a: Tensor): Tensor => callT('aten::relu', a);
/** PReLU with a learned slope per channel (dim 1) or one shared slope. */
export const prelu = (a: Tensor, weight: Tensor): Tensor => callT('aten::prelu', a, weight);

/** Clamps to [min, max]; either bound may be null. */
export const clamp = (a: Tensor, min: number | null, max: number | null): Tensor => callT('aten::clamp', a, min, max);

/** Converts to another dtype (returns an alias if it already has it). */
export const cast = (a: Tensor, dtype: DType): Tensor => callT('aten::to.dtype', a, SCALAR_TYPE[dtype]);

const cmp =
  (name: string) =>
  (a: Tensor, b: Operand): Tensor =>
    isNum(b) ? callT(`aten::${name}.Scalar`, a, b) : callT(`aten::${name}.Tensor`, a, b);
/** Elementwise comparisons, giving bool tensors. */
export const eq = cmp('eq');
export const ne = cmp('ne');
export const gt = cmp('gt');
export const ge = cmp('ge');
export const lt = cmp('lt');
export const le = cmp('le');
/** True where the value is neither NaN nor ±Inf. */
export const isfinite = (a: Tensor): Tensor => callT('aten::isfinite', a);
export const logicalNot = (a: Tensor): Tensor => callT('aten::logical_not', a);
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => callT('aten::logical_and', a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => callT('aten::logical_or', a, b);

/** cond ? a : b, elementwise with broadcasting. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (isNum(a) && isNum(b)) return callT('aten::where.Scalar', cond, a, b);
  if (isNum(a)) return callT('aten::where.ScalarSelf', cond, a, b);
  if (isNum(b)) return callT('aten::where.ScalarOther', cond, a, b);
  return callT('aten::where.self', cond, a, b);
}
