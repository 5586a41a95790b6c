// Option pieces shared by the losses. Each loss declares its options once, as a zod
// schema (src/util/options.ts): checked at construction, defaults filled, then frozen.
import { z } from 'zod';
import { parseOptions } from '../util/options.js';
import { OutputLayoutSchema } from './layout.js';

/** How soft-overlap losses reduce over the K channels (MONAI's vocabulary, one type for all). */
export const DiceReductionSchema = z
  .enum(['flattened', 'per-class-mean', 'per-class-sum'])
  .describe('overlap over the flattened tensor (the paper), or per class, averaged or summed');
export type DiceReduction = z.infer<typeof DiceReductionSchema>;
export const DICE_REDUCTIONS: readonly DiceReduction[] = DiceReductionSchema.options;

/** Every loss takes logits, or probabilities with this flag. */
export const fromProbabilities = z
  .boolean()
  .default(false)
  .describe('inputs are probabilities (clamped to [1e-7, 1 − 1e-7]) instead of logits');

/** The overlap losses and focal take either layout; the others have their own. */
export const layout = OutputLayoutSchema.default('sigmoid').describe(
  "'softmax': softmax over background + organs (target: labels, or one-hot with background), " +
    'overlap terms over the organs; default: sigmoid per organ (the paper)',
);

/** Additive smoothing S of an overlap term (numerator and denominator). */
export const smooth = (d: number): z.ZodDefault<z.ZodNumber> =>
  z.number().min(0).default(d).describe('additive smoothing S (numerator and denominator)');

/** Checks `given` against a loss's schema: defaults filled, frozen; errors name the loss and the option. */
export function lossOptions<S extends z.ZodTypeAny>(loss: string, schema: S, given: unknown): Readonly<z.output<S>> {
  return parseOptions(schema, given, `loss '${loss}'`);
}
