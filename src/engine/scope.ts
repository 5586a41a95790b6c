// Explicit memory: every tensor made inside `tidy(fn)` is freed when fn returns,
// except what fn returns. GC finalizers in the addon are only a backstop: with
// N-API on Node 20 they wait for the event loop, so a synchronous training loop
// that relied on them grew without bound.
import { ComboSegError } from './errors.js';

/** Anything that owns native memory and can be freed now. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];
let live = 0;

/** Called by every tensor at birth. */
export function track(t: Disposable): void {
  live++;
  scopes[scopes.length - 1]?.add(t);
}

/** Called by every tensor when disposed. */
export function untrack(t: Disposable): void {
  live--;
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].delete(t)) break;
}

/** Removes a tensor from every enclosing `tidy` scope, so it outlives them. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Number of tensors created and not yet disposed (a leak check: compare before and after). */
export function liveTensors(): number {
  return live;
}

function collect(value: unknown, into: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if ('dispose' in value && 'isDisposed' in value) {
    into.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, into, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor created during it, except the tensors in
 * its result (a tensor, or arrays / plain objects / Maps holding tensors), which
 * move to the enclosing scope. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of scope) if (!t.isDisposed) t.dispose();
    throw e;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new ComboSegError('tidy(fn): fn returned a Promise; tidy scopes are synchronous', {
      code: 'invalid-input',
      path: 'fn',
    });
  }
  const kept = new Set<Disposable>();
  collect(result, kept);
  const parent = scopes.at(-1); // undefined at top level: kept tensors then belong to no scope
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else if (!t.isDisposed) t.dispose();
  }
  return result;
}

/** Disposes every tensor found in `value` (a tensor, or arrays / objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found);
  for (const t of found) if (!t.isDisposed) t.dispose();
}
