// The Tensor core: a handle to one libtorch tensor, with shape, dtype and device,
// autograd access, data out and explicit disposal. This module is a leaf of the
// engine: it imports nothing from ./ops, so the ops can import it freely.
// The chaining methods (`a.add(b)`, `t.sum([1])`...) are installed by ./tensor.ts
// from the free functions in ./ops: code outside ./ops imports Tensor from there.
import { native, type TensorHandle } from './native.js';
import { ComboSegError, rethrowNative } from './errors.js';
import { track, untrack, type Disposable } from './scope.js';
import { dtypeOf, typedArrayFor, SCALAR_TYPE, type DType, type TypedArray } from './dtype.js';

let toDtypeId: number | undefined;

/** `aten::to.dtype` straight through the addon: the one op the core needs, without the op layer. */
function castHandle(h: TensorHandle, dtype: DType): TensorHandle {
  toDtypeId ??= native.lookupOp('aten::to', 'dtype').id;
  try {
    return native.callOp(toDtypeId, [h, SCALAR_TYPE[dtype]]) as TensorHandle;
  } catch (e) {
    rethrowNative(e, 'aten::to.dtype');
  }
}

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
    if (this.#handle === null) throw new ComboSegError('tensor used after dispose()', { code: 'invalid-input' });
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

  /**
   * Makes this tensor hold `other`'s data (freeing its own), and disposes `other`: how a module moves
   * its parameters to another device while layers keep their references to the same Tensor objects.
   */
  adopt(other: Tensor): void {
    const h = other.handle;
    other.#handle = null;
    untrack(other);
    this.#handle?.dispose();
    this.#handle = h;
    this.#shape = undefined;
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
    if (this.size !== 1) {
      const why = `item(): tensor has ${this.size} elements, shape [${this.shape}]`;
      throw new ComboSegError(why, { code: 'invalid-input' });
    }
    return Number(this.handle.item());
  }
  /** A copy of the data in the tensor's own element type (C order). */
  toTypedArray(): TypedArray {
    return this.handle.toArray();
  }
  /** A copy of the data as float32 (C order). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.handle.toArray() as Float32Array;
    // A bare handle, not a Tensor: nothing to track, freed right here.
    const c = castHandle(this.handle, 'float32');
    try {
      return c.toArray() as Float32Array;
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

/**
 * A tensor from data in C order: `tensor(new Float32Array([1, 2, 3, 4]), [2, 2])`.
 * Throws a ComboSegError (code 'invalid-input') for a bad shape or a value count that does not fill it.
 */
export function tensor(data: TypedArray | number[] | boolean[], shape?: number[], opts: TensorOptions = {}): Tensor {
  const typed = ArrayBuffer.isView(data) ? data : null;
  const dtype = opts.dtype ?? (typed ? dtypeOf(typed) : 'float32');
  let buf: TypedArray;
  let copy = opts.copy ?? true;
  if (typed && dtypeOf(typed) === dtype) {
    buf = typed;
  } else if (typed && dtype === 'bool' && typed instanceof Uint8Array) {
    buf = typed;
  } else {
    buf = typedArrayFor(dtype, Array.from(data as ArrayLike<number | bigint | boolean>, Number));
    copy = false; // our own fresh array: no need to copy again
  }
  const dims = shape ?? [buf.length];
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ComboSegError(`tensor(): bad shape [${dims}]`, { code: 'invalid-input', path: 'shape' });
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== buf.length) {
    throw new ComboSegError(`tensor(): ${buf.length} values do not fill shape [${dims}] (${n} elements)`, {
      code: 'invalid-input',
      path: 'data',
    });
  }
  const t = new Tensor(native.fromTypedArray(buf, dims, dtype, copy));
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A 0-d tensor holding one number. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor([value], [], { dtype });
}
