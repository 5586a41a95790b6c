// The Tensor: a handle to one libtorch tensor, with shape, dtype and device,
// autograd access and explicit disposal. Ops live in ./ops; the methods here
// are shortcuts to them for chaining.
import { native, type TensorHandle } from './native.js';
import { ComboSegError, rethrowNative } from './errors.js';
import { track, untrack, type Disposable } from './scope.js';
import { dtypeOf, typedArrayFor, type DType, type TypedArray } from './dtype.js';
import * as ew from './ops/elementwise.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';

export class Tensor implements Disposable {
  #handle: TensorHandle | null;
  #shape: number[] | undefined;

  /** Wraps a native handle (internal: use `tensor()` or an op to make tensors). */
  constructor(handle: TensorHandle) {
    this.#handle = handle;
    track(this);
  }

  /** The native handle; throws if the tensor was disposed. */
  get handle(): TensorHandle {
    if (this.#handle === null) throw new ComboSegError('tensor used after dispose()');
    return this.#handle;
  }

  get shape(): number[] {
    return (this.#shape ??= this.handle.shape());
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return this.handle.dtype();
  }
  get device(): string {
    return this.handle.device();
  }
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** Frees the native memory now (idempotent). */
  dispose(): void {
    if (this.#handle === null) return;
    this.#handle.dispose();
    this.#handle = null;
    untrack(this);
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return this.handle.requiresGrad();
  }
  set requiresGrad(on: boolean) {
    try {
      this.handle.setRequiresGrad(on);
    } catch (e) {
      rethrowNative(e, 'requiresGrad');
    }
  }
  /** Accumulated gradient, or null before any backward(). A new tensor object each call (dispose it, or use tidy). */
  get grad(): Tensor | null {
    const g = this.handle.grad();
    return g === null ? null : new Tensor(g);
  }
  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    this.handle.zeroGrad();
  }
  get isLeaf(): boolean {
    return this.handle.isLeaf();
  }
  /** Back-propagates from this tensor (a scalar, unless `gradient` is given). */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    try {
      this.handle.backward(gradient?.handle ?? null, opts.retainGraph ?? false);
    } catch (e) {
      rethrowNative(e, 'backward');
    }
  }

  // ---- data out ----
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ComboSegError(`item(): tensor has ${this.size} elements, shape [${this.shape}]`);
    return Number(this.handle.item());
  }
  /** A copy of the data in the tensor's own element type (C order). */
  toTypedArray(): TypedArray {
    return this.handle.toArray();
  }
  /** A copy of the data as float32 (C order). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.handle.toArray() as Float32Array;
    const c = ew.cast(this, 'float32');
    try {
      return c.handle.toArray() as Float32Array;
    } finally {
      c.dispose();
    }
  }
  /** Nested arrays would be costly for volumes; this gives a flat number[] for small tensors and tests. */
  toArray(): number[] {
    return Array.from(this.toTypedArray(), Number);
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape}], dtype=${this.dtype})`;
  }

  // ---- shortcuts (see ./ops for the documented functions) ----
  add(o: Tensor | number): Tensor { return ew.add(this, o); }
  sub(o: Tensor | number): Tensor { return ew.sub(this, o); }
  mul(o: Tensor | number): Tensor { return ew.mul(this, o); }
  div(o: Tensor | number): Tensor { return ew.div(this, o); }
  pow(e: Tensor | number): Tensor { return ew.pow(this, e); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  abs(): Tensor { return ew.abs(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  square(): Tensor { return ew.mul(this, this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  logSigmoid(): Tensor { return ew.logSigmoid(this); }
  relu(): Tensor { return ew.relu(this); }
  clamp(min: number | null, max: number | null): Tensor { return ew.clamp(this, min, max); }
  cast(dtype: DType): Tensor { return ew.cast(this, dtype); }
  eq(o: Tensor | number): Tensor { return ew.eq(this, o); }
  gt(o: Tensor | number): Tensor { return ew.gt(this, o); }
  lt(o: Tensor | number): Tensor { return ew.lt(this, o); }
  ge(o: Tensor | number): Tensor { return ew.ge(this, o); }
  le(o: Tensor | number): Tensor { return ew.le(this, o); }
  sum(dims?: number[], keepDim = false): Tensor { return red.sum(this, dims, keepDim); }
  mean(dims?: number[], keepDim = false): Tensor { return red.mean(this, dims, keepDim); }
  max(): Tensor { return red.max(this); }
  min(): Tensor { return red.min(this); }
  reshape(shape: number[]): Tensor { return sh.reshape(this, shape); }
  flatten(): Tensor { return sh.reshape(this, [-1]); }
  permute(dims: number[]): Tensor { return sh.permute(this, dims); }
  unsqueeze(dim: number): Tensor { return sh.unsqueeze(this, dim); }
  squeeze(dim: number): Tensor { return sh.squeeze(this, dim); }
  slice(dim: number, start: number, end: number, step = 1): Tensor { return sh.slice(this, dim, start, end, step); }
  contiguous(): Tensor { return sh.contiguous(this); }
  clone(): Tensor { return sh.clone(this); }
  detach(): Tensor { return sh.detach(this); }

  // ---- in place (optimisers, initialisers; run them under noGrad on parameters) ----
  /** this += alpha * o */
  add_(o: Tensor | number, alpha = 1): this { ew.inPlace(this, 'add_', o, alpha); return this; }
  /** this *= o */
  mul_(o: Tensor | number): this { ew.inPlace(this, 'mul_', o); return this; }
  /** this = o (broadcast) */
  copy_(o: Tensor): this { ew.inPlace(this, 'copy_', o); return this; }
  /** this = 0 */
  zero_(): this { ew.inPlace(this, 'zero_'); return this; }
  /** this = value */
  fill_(value: number): this { ew.inPlace(this, 'fill_', value); return this; }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this { ew.inPlace(this, 'addcmul_', a, b, value); return this; }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { ew.inPlace(this, 'addcdiv_', a, b, value); return this; }
  /** Uniform samples in [low, high) from the seeded generator. */
  uniform_(low: number, high: number): this { ew.inPlace(this, 'uniform_', low, high); return this; }
  /** Normal samples from the seeded generator. */
  normal_(mean = 0, std = 1): this { ew.inPlace(this, 'normal_', mean, std); return this; }
}

export interface TensorOptions {
  /** Element type; default: that of the typed array, float32 for number[]. */
  dtype?: DType;
  requiresGrad?: boolean;
  /**
   * false: the tensor aliases `data` without copying (only for typed arrays of the
   * matching dtype); the caller must not change `data` afterwards. Default true.
   */
  copy?: boolean;
}

/** A tensor from data in C order: `tensor(new Float32Array([1, 2, 3, 4]), [2, 2])`. */
export function tensor(data: TypedArray | number[] | boolean[], shape?: number[], opts: TensorOptions = {}): Tensor {
  const isTyped = ArrayBuffer.isView(data);
  const dtype = opts.dtype ?? (isTyped ? dtypeOf(data as TypedArray) : 'float32');
  let buf: TypedArray;
  let copy = opts.copy ?? true;
  if (isTyped && dtypeOf(data as TypedArray) === dtype) {
    buf = data as TypedArray;
  } else if (isTyped && dtype === 'bool' && data instanceof Uint8Array) {
    buf = data;
  } else {
    buf = typedArrayFor(dtype, Array.from(data as ArrayLike<number>, Number));
    copy = false; // our own fresh array: no need to copy again
  }
  const dims = shape ?? [buf.length];
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new ComboSegError(`tensor(): bad shape [${dims}]`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== buf.length) throw new ComboSegError(`tensor(): ${buf.length} values do not fill shape [${dims}] (${n} elements)`);
  const t = new Tensor(native.fromTypedArray(buf, dims, dtype, copy));
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A 0-d tensor holding one number. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor([value], [], { dtype });
}
