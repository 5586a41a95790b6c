// Option checking shared by the networks.
import { ComboSegError } from '../engine/errors.js';

export function mergeNetworkOptions<T extends object>(net: string, defaults: T, given: Partial<T> | undefined): Readonly<T> {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in defaults)) throw new ComboSegError(`network '${net}': unknown option '${k}' (options: ${Object.keys(defaults).join(', ')})`);
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  const o = out as Record<string, unknown>;
  for (const key of ['inChannels', 'outChannels']) {
    if (!Number.isInteger(o[key]) || (o[key] as number) < 1) {
      throw new ComboSegError(`network '${net}': option '${key}' must be a positive integer, got ${JSON.stringify(o[key])}`);
    }
  }
  if (!Number.isInteger(o.seed) || (o.seed as number) < 0) throw new ComboSegError(`network '${net}': option 'seed' must be a non-negative integer`);
  if (typeof o.outputBias !== 'number' || !Number.isFinite(o.outputBias)) throw new ComboSegError(`network '${net}': option 'outputBias' must be a finite number`);
  return Object.freeze(out);
}

export function checkChannels(net: string, name: string, v: unknown, minLength: number): void {
  if (!Array.isArray(v) || v.length < minLength || v.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new ComboSegError(`network '${net}': option '${name}' must be at least ${minLength} positive integers, got ${JSON.stringify(v)}`);
  }
}

export function checkPositiveInt(net: string, name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 1) throw new ComboSegError(`network '${net}': option '${name}' must be a positive integer, got ${JSON.stringify(v)}`);
}

export function checkOneOf<T extends string>(net: string, name: string, v: unknown, allowed: readonly T[]): void {
  if (!allowed.includes(v as T)) {
    throw new ComboSegError(`network '${net}': option '${name}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`);
  }
}
