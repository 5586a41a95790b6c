export {
  create,
  checkLossName,
  lossLayout,
  LOSSES,
  LOSS_NAMES,
  SOFTMAX_LOSSES,
  type LossName,
  type LossOptionsByName,
} from './registry.js';
export type { Loss } from './loss.js';
export { DiceReductionSchema, type DiceReduction } from './options.js';
export { combo, comboCrossEntropyTerms, ComboOptionsSchema, type ComboOptions, type ComboVariant } from './combo.js';
export { dice, DiceOptionsSchema, type DiceOptions } from './dice.js';
export { bce, BceOptionsSchema, type BceOptions } from './bce.js';
export { wbce, WbceOptionsSchema, type WbceOptions } from './wbce.js';
export { ce, CeOptionsSchema, type CeOptions } from './ce.js';
export { wce, frequencyWeights, WceOptionsSchema, type WceOptions, type ClassWeights } from './wce.js';
export { dce, DceOptionsSchema, type DceOptions } from './dce.js';
export { focal, FocalOptionsSchema, type FocalOptions } from './focal.js';
export { gdl, gdlWeights, GdlOptionsSchema, type GdlOptions } from './gdl.js';
export { jaccard, JaccardOptionsSchema, type JaccardOptions } from './jaccard.js';
export { sensspec, SensSpecOptionsSchema, type SensSpecOptions } from './sensspec.js';
export { tversky, TverskyOptionsSchema, type TverskyOptions } from './tversky.js';
