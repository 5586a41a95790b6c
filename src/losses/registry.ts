// losses.create(name, options): every loss of the paper's comparison behind one name.
import { ComboSegError } from '../engine/errors.js';
import type { Loss } from './loss.js';
import { combo, type ComboOptions } from './combo.js';
import { dice, type DiceOptions } from './dice.js';
import { bce, type BceOptions } from './bce.js';
import { wbce, type WbceOptions } from './wbce.js';
import { ce, type CeOptions } from './ce.js';
import { wce, type WceOptions } from './wce.js';
import { dce, type DceOptions } from './dce.js';
import { focal, type FocalOptions } from './focal.js';
import { gdl, type GdlOptions } from './gdl.js';
import { jaccard, type JaccardOptions } from './jaccard.js';
import { sensspec, type SensSpecOptions } from './sensspec.js';
import { tversky, type TverskyOptions } from './tversky.js';

export interface LossOptionsByName {
  combo: ComboOptions; dice: DiceOptions; bce: BceOptions; wbce: WbceOptions; ce: CeOptions; wce: WceOptions;
  dce: DceOptions; focal: FocalOptions; gdl: GdlOptions; jaccard: JaccardOptions; sensspec: SensSpecOptions; tversky: TverskyOptions;
}
export type LossName = keyof LossOptionsByName;

const FACTORIES: { [K in LossName]: (o?: Partial<LossOptionsByName[K]>) => Loss<LossOptionsByName[K]> } = {
  combo, dice, bce, wbce, ce, wce, dce, focal, gdl, jaccard, sensspec, tversky,
};

/** Loss names, in the order of the paper's Table I (plus Tversky). */
export const LOSS_NAMES = Object.keys(FACTORIES) as LossName[];

/** Which losses take softmax logits (channels include background) instead of sigmoid ones. */
export const SOFTMAX_LOSSES: readonly LossName[] = ['ce', 'wce'];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) {
    d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/**
 * Creates a loss by name. Options are checked here, once, and frozen.
 * @example const loss = create('combo', { alpha: 0.5, beta: 0.4, smooth: 1 });
 */
export function create<K extends LossName>(name: K, options?: Partial<LossOptionsByName[K]>): Loss<LossOptionsByName[K]>;
export function create(name: string, options?: Record<string, unknown>): Loss;
export function create(name: string, options: Record<string, unknown> = {}): Loss {
  if (!(name in FACTORIES)) {
    const best = [...LOSS_NAMES].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    const hint = editDistance(name, best) <= 2 ? ` Did you mean '${best}'?` : '';
    throw new ComboSegError(`unknown loss '${name}'.${hint} Known losses: ${LOSS_NAMES.join(', ')}`);
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ComboSegError(`loss '${name}': options must be an object, got ${JSON.stringify(options)}`);
  }
  return (FACTORIES[name as LossName] as (o: Record<string, unknown>) => Loss)(options);
}
