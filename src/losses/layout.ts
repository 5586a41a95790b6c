// The output layouts a loss can declare (what each means for targets, activation and labels:
// src/data/layout.ts).
import { z } from 'zod';

export const OutputLayoutSchema = z
  .enum(['sigmoid', 'softmax'])
  .describe("'sigmoid': one channel per organ, no background; 'softmax': background + one channel per organ");
export type OutputLayout = z.infer<typeof OutputLayoutSchema>;
