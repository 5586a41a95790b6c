// A training configuration's sampler: the one declaration of its options.
import { z } from 'zod';
import { Vec3Schema } from '../util/options.js';

export const SamplerConfigSchema = z
  .object({
    kind: z
      .enum(['paper', 'ratio', 'whole'])
      .default('paper')
      .describe("'paper': patches per organ and background per volume; 'ratio': fg/bg centres; 'whole': volumes"),
    patchSize: Vec3Schema.default(80).describe('patch size (x, y, z), or one number for a cube; also the window'),
    perOrgan: z.number().int().min(0).default(100).describe("'paper': patches containing each organ, per volume"),
    background: z.number().int().min(0).default(100).describe("'paper': organ-free patches per volume"),
    pos: z.number().min(0).default(1).describe("'ratio': relative weight of patches centred on foreground"),
    neg: z.number().min(0).default(1).describe("'ratio': relative weight of patches centred on background"),
    samplesPerCase: z.number().int().min(1).default(8).describe("'ratio': patches per volume and epoch"),
  })
  .strict();
export type SamplerConfig = z.output<typeof SamplerConfigSchema>;
