// Option pieces shared by the networks: each network's schema extends these.
import { z } from 'zod';
import { parseOptions } from '../util/options.js';

/** What every network takes. */
export const NetworkOptionsSchema = z
  .object({
    inChannels: z.number().int().min(1).default(1).describe('image channels in'),
    outChannels: z.number().int().min(1).default(1).describe('output channels (organs, for the sigmoid losses)'),
    seed: z.number().int().min(0).default(0).describe('seed of the Glorot initialisation'),
    outputBias: z
      .number()
      .finite()
      .default(0)
      .describe(
        'initial bias of the output convolution; a negative prior such as −4 (σ ≈ 0.02) starts a network for ' +
          'tiny organs near "background everywhere" instead of p = 0.5 (Lin et al. 2017)',
      ),
  })
  .strict();
export type NetworkOptions = z.infer<typeof NetworkOptionsSchema>;

/** Options set from the data and the run, not by the user in a training configuration. */
export const RUN_SET_OPTIONS = ['inChannels', 'outChannels', 'seed'] as const;

/** A list of at least `min` positive integers (channel widths, convolution counts). */
export const positiveInts = (min: number): z.ZodArray<z.ZodNumber> => z.array(z.number().int().min(1)).min(min);

/** Checks `given` against a network's schema: defaults filled, frozen; errors name the network and the option. */
export function networkOptions<S extends z.ZodTypeAny>(net: string, schema: S, given: unknown): Readonly<z.output<S>> {
  return parseOptions(schema, given, `network '${net}'`);
}
