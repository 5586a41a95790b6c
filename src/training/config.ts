// The training configuration: JSON validated with zod. Unknown keys and bad
// values are rejected with the path of the offending field.
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { NETWORK_NAMES } from '../networks/registry.js';
import { LOSS_NAMES } from '../losses/registry.js';

const int = z.number().int();
const pos = int.min(1);
const vec3 = z.union([pos, z.tuple([pos, pos, pos])]).transform((v) => (typeof v === 'number' ? ([v, v, v] as [number, number, number]) : v));

const optimizer = z.discriminatedUnion('name', [
  z.object({ name: z.literal('adadelta'), lr: z.number().positive().default(1), rho: z.number().min(0).lt(1).default(0.95), eps: z.number().positive().default(1e-8) }).strict(),
  z.object({ name: z.literal('adam'), lr: z.number().positive().default(1e-3), beta1: z.number().min(0).lt(1).default(0.9), beta2: z.number().min(0).lt(1).default(0.999), eps: z.number().positive().default(1e-8) }).strict(),
  z.object({ name: z.literal('sgd'), lr: z.number().positive().default(0.01), momentum: z.number().min(0).lt(1).default(0.9) }).strict(),
]);

export const TrainConfigSchema = z.object({
  /** A Medical Segmentation Decathlon folder, or two folders of images and labels matched by name. */
  data: z.union([
    z.object({ msd: z.string().min(1) }).strict(),
    z.object({ images: z.string().min(1), labels: z.string().min(1), labelNames: z.record(z.string()) }).strict(),
    z.object({ cases: z.string().min(1), image: z.string().min(1), label: z.string().min(1), labelNames: z.record(z.string()) }).strict(),
  ]),
  /** Validation (and test) fractions, shuffled by seed; or k folds. */
  split: z.object({ validation: z.number().min(0).lt(1).default(0.2), test: z.number().min(0).lt(1).default(0), seed: int.nonnegative().default(0) }).strict().default({}),
  /**
   * Fold `fold` of k. heldOut 'validation' (tuning): the fold validates, the rest train.
   * heldOut 'test' (cross-validated evaluation): the fold is the test set and split.validation
   * of the rest validates, so the checkpoint is never picked on the cases it is scored on.
   */
  folds: z.object({ k: int.min(2), fold: int.nonnegative(), seed: int.nonnegative().default(0), heldOut: z.enum(['validation', 'test']).default('validation') }).strict().optional(),
  network: z.object({ name: z.enum(NETWORK_NAMES as [string, ...string[]]), options: z.record(z.unknown()).default({}) }).strict(),
  loss: z.object({ name: z.enum(LOSS_NAMES as [string, ...string[]]), options: z.record(z.unknown()).default({}) }).strict(),
  sampler: z.object({
    kind: z.enum(['paper', 'ratio', 'whole']).default('paper'),
    /** Patch size (x, y, z), or one number for a cube. The paper: 80. */
    patchSize: vec3.default(80),
    perOrgan: int.nonnegative().default(100),
    background: int.nonnegative().default(100),
    pos: z.number().min(0).default(1),
    neg: z.number().min(0).default(1),
    samplesPerCase: pos.default(8),
  }).strict().default({}),
  normalisation: z.object({
    kind: z.enum(['minmax', 'zscore', 'window']).default('minmax'),
    window: z.tuple([z.number(), z.number()]).optional(),
    /** Min–max each patch to [0, 1] as it enters the network (the paper). */
    perPatchMinMax: z.boolean().default(true),
  }).strict().default({}),
  batchSize: pos.default(1),
  epochs: pos.default(10),
  /** Stop before an epoch that would end past this many minutes of training (the run ends normally). */
  maxMinutes: z.number().positive().optional(),
  /** At most this many patches per epoch (the first ones of the shuffled epoch). */
  patchesPerEpoch: pos.optional(),
  optimizer: optimizer.default({ name: 'adadelta' }),
  inference: z.object({
    /** Window step (x, y, z); default: half the patch size. */
    stride: vec3.optional(),
    aggregation: z.enum(['max', 'mean', 'gaussian']).default('max'),
    threshold: z.number().gt(0).lt(1).default(0.5),
    /** 'auto': one whole-volume pass when it fits in memoryBudgetMiB, else windows. */
    mode: z.enum(['auto', 'window', 'whole']).default('auto'),
    memoryBudgetMiB: pos.default(4096),
    swBatch: pos.default(1),
    flipTta: z.boolean().default(false),
  }).strict().default({}),
  seed: int.nonnegative().default(0),
  /** Run directory. */
  out: z.string().min(1),
}).strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type InferenceConfig = TrainConfig['inference'];

/** Validates a configuration; `source` names it in errors (a file path, or 'config'). */
export function parseConfig(value: unknown, source = 'config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const path = i.path.length ? i.path.join('.') : '(top level)';
    const extra = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
    return `  ${path}: ${i.message}${extra}`;
  });
  throw new ComboSegError(`${source}: invalid training configuration:\n${lines.join('\n')}`);
}
