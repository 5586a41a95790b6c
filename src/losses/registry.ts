// losses.create(name, options): every loss of the paper's comparison behind one name,
// each with the schema of its options (the one declaration of them) and its output layout.
import type { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { didYouMean } from '../util/options.js';
import type { Loss } from './loss.js';
import type { OutputLayout } from './layout.js';
import { combo, ComboOptionsSchema } from './combo.js';
import { dice, DiceOptionsSchema } from './dice.js';
import { bce, BceOptionsSchema } from './bce.js';
import { wbce, WbceOptionsSchema } from './wbce.js';
import { ce, CeOptionsSchema } from './ce.js';
import { wce, WceOptionsSchema } from './wce.js';
import { dce, DceOptionsSchema } from './dce.js';
import { focal, FocalOptionsSchema } from './focal.js';
import { gdl, GdlOptionsSchema } from './gdl.js';
import { jaccard, JaccardOptionsSchema } from './jaccard.js';
import { sensspec, SensSpecOptionsSchema } from './sensspec.js';
import { tversky, TverskyOptionsSchema } from './tversky.js';

interface LossEntry<S extends z.ZodTypeAny> {
  schema: S;
  create: (o?: Partial<z.output<S>>) => Loss<z.output<S>>;
  /** 'sigmoid': K channels, no background; 'softmax': K + 1 channels with background. */
  layout: OutputLayout;
  /** One line for the docs. */
  summary: string;
}

const entry = <S extends z.ZodTypeAny>(e: LossEntry<S>): LossEntry<S> => e;

/** Every loss, in the order of the paper's Table I (plus Tversky). */
export const LOSSES = {
  combo: entry({
    schema: ComboOptionsSchema,
    create: combo,
    layout: 'sigmoid',
    summary: 'α · β-weighted BCE − (1 − α) · Dice (eq. 3)',
  }),
  dice: entry({
    schema: DiceOptionsSchema,
    create: dice,
    layout: 'sigmoid',
    summary: "1 − soft Dice; `squared`: V-Net's Σp² + Σt² denominator",
  }),
  bce: entry({ schema: BceOptionsSchema, create: bce, layout: 'sigmoid', summary: 'binary cross entropy per channel' }),
  wbce: entry({ schema: WbceOptionsSchema, create: wbce, layout: 'sigmoid', summary: "Combo's β-weighted BCE alone" }),
  ce: entry({ schema: CeOptionsSchema, create: ce, layout: 'softmax', summary: 'softmax cross entropy' }),
  wce: entry({
    schema: WceOptionsSchema,
    create: wce,
    layout: 'softmax',
    summary: 'class-weighted softmax CE (weighted mean)',
  }),
  dce: entry({ schema: DceOptionsSchema, create: dce, layout: 'sigmoid', summary: '(1 − Dice) + BCE' }),
  focal: entry({ schema: FocalOptionsSchema, create: focal, layout: 'sigmoid', summary: '−α_t (1 − p_t)^γ ln p_t' }),
  gdl: entry({
    schema: GdlOptionsSchema,
    create: gdl,
    layout: 'sigmoid',
    summary: 'generalised Dice, w_c = 1/(Σt_c)²; absent classes take the largest finite weight',
  }),
  jaccard: entry({ schema: JaccardOptionsSchema, create: jaccard, layout: 'sigmoid', summary: '1 − soft IoU' }),
  sensspec: entry({
    schema: SensSpecOptionsSchema,
    create: sensspec,
    layout: 'sigmoid',
    summary: 'r · sensitivity error + (1 − r) · specificity error (Brosch)',
  }),
  tversky: entry({
    schema: TverskyOptionsSchema,
    create: tversky,
    layout: 'sigmoid',
    summary: '1 − TP / (TP + a·FP + b·FN)',
  }),
} as const;

export type LossName = keyof typeof LOSSES;
export type LossOptionsByName = { [K in LossName]: z.output<(typeof LOSSES)[K]['schema']> };

/** Loss names, in the order of the paper's Table I (plus Tversky). */
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/**
 * The output layout a loss trains: its own, or the one its `layout` option picks (the overlap
 * losses and focal take either). Options are checked first.
 */
export function lossLayout(name: string, options: Record<string, unknown> = {}): OutputLayout {
  const loss = create(name, options);
  const chosen = (loss.options as { layout?: OutputLayout }).layout;
  return chosen ?? LOSSES[name as LossName].layout;
}

/** Which losses always take softmax logits (channels include background) instead of sigmoid ones. */
export const SOFTMAX_LOSSES: readonly LossName[] = LOSS_NAMES.filter((n) => LOSSES[n].layout === 'softmax');

/** Whether `name` is a loss; else throws, naming the closest one. */
export function checkLossName(name: string): asserts name is LossName {
  if (!(name in LOSSES)) {
    throw new ComboSegError(
      `unknown loss '${name}'.${didYouMean(name, LOSS_NAMES)} Known losses: ${LOSS_NAMES.join(', ')}`,
      { code: 'invalid-option' },
    );
  }
}

/**
 * Creates a loss by name. Options are checked here, once, against the loss's schema, and frozen.
 * @example const loss = create('combo', { alpha: 0.5, beta: 0.4, smooth: 1 });
 */
export function create<K extends LossName>(
  name: K,
  options?: Partial<LossOptionsByName[K]>,
): Loss<LossOptionsByName[K]>;
export function create(name: string, options?: Record<string, unknown>): Loss;
export function create(name: string, options: Record<string, unknown> = {}): Loss {
  checkLossName(name);
  return (LOSSES[name].create as (o: Record<string, unknown>) => Loss)(options);
}
