// Calls libtorch ops by schema name (`aten::add.Tensor`, ...) through the
// addon's boxed dispatcher call. Op ids are looked up once and cached.
import { native, type NativeValue } from '../native.js';
import { rethrowNative } from '../errors.js';
import { Tensor } from '../tensor-core.js';

export type Arg = Tensor | number | boolean | string | null | undefined | Arg[];

const ids = new Map<string, number>();

function opId(qualified: string): number {
  let id = ids.get(qualified);
  if (id === undefined) {
    const [name, overload = ''] = qualified.split('.');
    id = native.lookupOp(name, overload).id;
    ids.set(qualified, id);
  }
  return id;
}

function toNative(a: Arg): NativeValue {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNative);
  return a;
}

export type Wrapped = Tensor | number | boolean | null | Wrapped[];

function wrap(v: NativeValue): Wrapped {
  if (v instanceof native.TensorHandle) return new Tensor(v);
  if (Array.isArray(v)) return v.map(wrap);
  if (v === undefined) return null;
  return v as number | boolean | null;
}

/** Calls `aten::name.overload` with positional arguments (trailing ones may be omitted: schema defaults apply). */
export function call(qualified: string, ...args: Arg[]): Wrapped {
  const id = opId(qualified);
  let out: NativeValue;
  try {
    out = native.callOp(id, args.map(toNative));
  } catch (e) {
    rethrowNative(e, qualified);
  }
  return wrap(out);
}

/** `call` for ops that return one tensor. */
export function callT(qualified: string, ...args: Arg[]): Tensor {
  return call(qualified, ...args) as Tensor;
}

/** `call` for ops that return several tensors. */
export function callTs(qualified: string, ...args: Arg[]): Tensor[] {
  return call(qualified, ...args) as Tensor[];
}
