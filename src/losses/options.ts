// Option checking shared by every loss: checked once at construction, then frozen.
import { ComboSegError } from '../engine/errors.js';

/** How soft-overlap losses reduce over the K channels (MONAI's vocabulary, one type for all). */
export type DiceReduction = 'flattened' | 'per-class-mean' | 'per-class-sum';
export const DICE_REDUCTIONS: readonly DiceReduction[] = ['flattened', 'per-class-mean', 'per-class-sum'];

/**
 * Merges user options over defaults, rejecting unknown keys, and freezes the result.
 * `loss` names the loss in messages.
 */
export function mergeOptions<T extends object>(loss: string, defaults: T, given: Partial<T> | undefined): Readonly<T> {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in defaults)) {
      throw new ComboSegError(`loss '${loss}': unknown option '${k}' (options: ${Object.keys(defaults).join(', ') || 'none'})`);
    }
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return Object.freeze(out);
}

export function checkRange(loss: string, name: string, v: unknown, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new ComboSegError(`loss '${loss}': option '${name}' must be a number in [${lo}, ${hi}], got ${String(v)}`);
  }
}

export function checkChoice<T extends string>(loss: string, name: string, v: unknown, allowed: readonly T[]): void {
  if (!allowed.includes(v as T)) {
    throw new ComboSegError(`loss '${loss}': option '${name}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`);
  }
}

export function checkBoolean(loss: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new ComboSegError(`loss '${loss}': option '${name}' must be true or false, got ${JSON.stringify(v)}`);
}
