// The Tensor with its chaining methods. The class core lives in ./tensor-core.ts (a leaf
// that the ops import); the methods here are the free functions of ./ops, installed on the
// prototype from one table, so each op has one owner and `t.op(...args)` is `op(t, ...args)`.
// Import Tensor from this module (or ./index.ts): loading it is what installs the methods.
import { Tensor } from './tensor-core.js';
import * as ew from './ops/elementwise.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';
import * as nn from './ops/nn.js';
import * as ip from './ops/inplace.js';

export { Tensor, tensor, scalar, type TensorOptions } from './tensor-core.js';

/** A free function that takes the tensor first: the shape of every method. */
type TensorFirst = (self: Tensor, ...rest: never[]) => unknown;

// `where(cond, a, b)` stays function-only: as a method it would read `cond.where(a, b)`,
// the reverse of PyTorch's `x.where(cond, y)`.
const METHODS = {
  // elementwise
  add: ew.add,
  sub: ew.sub,
  mul: ew.mul,
  div: ew.div,
  pow: ew.pow,
  rsub: ew.rsub,
  neg: ew.neg,
  exp: ew.exp,
  log: ew.log,
  log1p: ew.log1p,
  sqrt: ew.sqrt,
  rsqrt: ew.rsqrt,
  square: ew.square,
  abs: ew.abs,
  sign: ew.sign,
  floor: ew.floor,
  round: ew.round,
  tanh: ew.tanh,
  minimum: ew.minimum,
  maximum: ew.maximum,
  sigmoid: ew.sigmoid,
  logSigmoid: ew.logSigmoid,
  softplus: ew.softplus,
  relu: ew.relu,
  clamp: ew.clamp,
  cast: ew.cast,
  eq: ew.eq,
  ne: ew.ne,
  gt: ew.gt,
  ge: ew.ge,
  lt: ew.lt,
  le: ew.le,
  isfinite: ew.isfinite,
  logicalNot: ew.logicalNot,
  logicalAnd: ew.logicalAnd,
  logicalOr: ew.logicalOr,
  // reductions
  sum: red.sum,
  mean: red.mean,
  max: red.max,
  min: red.min,
  amax: red.amax,
  amin: red.amin,
  argmax: red.argmax,
  logsumexp: red.logsumexp,
  // shape
  reshape: sh.reshape,
  flatten: sh.flatten,
  permute: sh.permute,
  transpose: sh.transpose,
  unsqueeze: sh.unsqueeze,
  squeeze: sh.squeeze,
  expand: sh.expand,
  repeat: sh.repeat,
  contiguous: sh.contiguous,
  clone: sh.clone,
  detach: sh.detach,
  slice: sh.slice,
  chunk: sh.chunk,
  flip: sh.flip,
  pad: sh.pad,
  gather: sh.gather,
  indexSelect: sh.indexSelect,
  matmul: sh.matmul,
  // nn
  softmax: nn.softmax,
  logSoftmax: nn.logSoftmax,
  // in place (optimisers, initialisers; run them under noGrad on parameters)
  add_: ip.add_,
  mul_: ip.mul_,
  copy_: ip.copy_,
  zero_: ip.zero_,
  fill_: ip.fill_,
  addcmul_: ip.addcmul_,
  addcdiv_: ip.addcdiv_,
  uniform_: ip.uniform_,
  normal_: ip.normal_,
};

/** `op(self, ...rest)` seen as the method `self.op(...rest)`. */
type AsMethod<F> = F extends (self: Tensor, ...rest: infer A) => infer R ? (...rest: A) => R : never;
type TensorMethods = { [K in keyof typeof METHODS]: AsMethod<(typeof METHODS)[K]> };

declare module './tensor-core.js' {
  // Interface merge: the class gains the methods, typed as the free functions minus their first argument.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging needs an interface
  interface Tensor extends TensorMethods {}
}

// The check that every entry takes the tensor first sits here, not as `satisfies` on METHODS:
// there it would make the interface merge above depend on itself (TS2310).
const table: Record<string, TensorFirst> = METHODS;

for (const [name, op] of Object.entries(table)) {
  if (name in Tensor.prototype) throw new Error(`Tensor.${name}: a method would shadow a core member`);
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, ...rest: never[]): unknown {
      return op(this, ...rest);
    },
    writable: true,
    configurable: true,
  });
}
