// How a model is applied to a scan: the one declaration of the inference options,
// used by training configurations, checkpoints, `comboseg predict` and the server.
import { z } from 'zod';
import { Vec3Schema } from '../util/options.js';

export const AggregationSchema = z
  .enum(['max', 'mean', 'gaussian'])
  .describe("how overlapping windows combine: 'max' (the paper), 'mean', or Gaussian-weighted");

export const InferenceSettingsSchema = z
  .object({
    stride: Vec3Schema.optional().describe('window step (x, y, z), or one number; default: half the patch size'),
    aggregation: AggregationSchema.default('max'),
    threshold: z.number().gt(0).lt(1).default(0.5).describe('probability threshold of a label'),
    mode: z
      .enum(['auto', 'window', 'whole'])
      .default('auto')
      .describe("'auto': one whole-volume pass when it fits in memoryBudgetMiB, else sliding windows"),
    memoryBudgetMiB: z
      .number()
      .int()
      .min(1)
      .max(2 ** 20)
      .default(4096)
      .describe("memory a whole-volume pass may take ('auto')"),
    swBatch: z.number().int().min(1).max(1024).default(1).describe('windows per forward pass'),
    flipTta: z
      .boolean()
      .default(false)
      .describe('average over the identity and the three single-axis flips (test-time augmentation)'),
    // Optional rather than .default(false): an unset field leaves resolved training configurations (and so
    // experiment cell hashes, src/experiments/grid.ts) as they were before the setting existed.
    largestComponent: z
      .union([z.boolean(), z.array(z.string()).min(1)])
      .optional()
      .describe(
        'keep only the largest connected component of each organ (true) or of the organs named; default: false',
      ),
  })
  .strict();

export type InferenceSettings = z.output<typeof InferenceSettingsSchema>;
export type Aggregation = z.infer<typeof AggregationSchema>;
