// The training configuration: JSON validated with zod. Unknown keys and bad
// values are rejected with the path of the offending field.
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { DeviceSchema } from '../engine/device.js';
import { PrecisionSchema } from '../engine/precision.js';
import { NETWORKS, NETWORK_NAMES } from '../networks/registry.js';
import { RUN_SET_OPTIONS } from '../networks/options.js';
import { LOSSES, LOSS_NAMES } from '../losses/registry.js';
import { SamplerConfigSchema } from '../data/sampler-options.js';
import { SpacingSettingSchema } from '../data/spacing.js';
import { AugmentationSchema } from '../data/augment.js';
import { LrScheduleSchema } from './schedules.js';
import { InferenceSettingsSchema } from '../inference/settings.js';
import { addProblems, configProblems } from '../util/options.js';
import { OptimizerConfigSchema } from './optimizers.js';

const int = z.number().int();
const pos = int.min(1);
const options = z.record(z.unknown()).default({});

/**
 * A network by name, its options checked by the network's own schema (inChannels, outChannels
 * and seed come from the data and the run). The options are kept as given: defaults apply when
 * the network is built, so config.json shows what the user chose.
 */
const NetworkConfigSchema = z
  .object({ name: z.enum(NETWORK_NAMES as [string, ...string[]]), options })
  .strict()
  .superRefine((v, ctx) => {
    const entry = NETWORKS[v.name as keyof typeof NETWORKS];
    const set = RUN_SET_OPTIONS.filter((k) => k in v.options);
    if (set.length) {
      const message = `${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set from the data and the run seed, not here`;
      ctx.addIssue({ code: 'custom', path: ['options', set[0]], message });
    }
    addProblems(ctx, entry.schema, v.options, ['options']);
  });

/** A loss by name, its options checked by the loss's own schema (kept as given, as the network's). */
const LossConfigSchema = z
  .object({ name: z.enum(LOSS_NAMES as [string, ...string[]]), options })
  .strict()
  .superRefine((v, ctx) => addProblems(ctx, LOSSES[v.name as keyof typeof LOSSES].schema, v.options, ['options']));

/**
 * Where the run's processes are: `nproc` on this host, `nnodes` hosts in all (this one `nodeRank`),
 * the rendezvous at `master` (rank 0's host; on one host a free loopback port when not given).
 */
export const DistributedConfigSchema = z
  .object({
    nproc: pos.default(1).describe('processes on this host (each with cores / nproc threads)'),
    nnodes: pos.default(1).describe('hosts in the run; each runs `comboseg train` with its own nodeRank'),
    nodeRank: int.nonnegative().default(0).describe("this host's place, 0 … nnodes − 1 (node 0 hosts the rendezvous)"),
    master: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'must be HOST:PORT, e.g. 10.0.0.1:29500')
      .optional()
      .describe("node 0's address and a free port on it; one host: a free loopback port when absent"),
    /** Batch-norm statistics over the global batch (forward and backward), not each rank's share. */
    syncBatchNorm: z
      .boolean()
      .default(false)
      .describe("batch-norm statistics over the global batch (one process's batch), not each rank's share"),
    /** How long a rendezvous or collective may wait for the other ranks. */
    timeoutSeconds: z.number().positive().default(300).describe('how long to wait for the other ranks, seconds'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.nodeRank >= d.nnodes) {
      ctx.addIssue({ code: 'custom', path: ['nodeRank'], message: `must be below nnodes (${d.nnodes})` });
    }
    if (d.nnodes > 1 && d.master === undefined) {
      const message = 'is needed when nnodes > 1: the address of node 0, HOST:PORT';
      ctx.addIssue({ code: 'custom', path: ['master'], message });
    }
  })
  .default({});
export type DistributedConfig = z.infer<typeof DistributedConfigSchema>;

/** Processes in the whole run. */
export const worldSizeOf = (d: DistributedConfig): number => d.nproc * d.nnodes;

/** What the image's values measure when its files cannot say (PET in SUV as NIfTI): shown in a fixed SUV window. */
const IMAGE_UNITS = z.literal('SUV').optional();

export const TrainConfigSchema = z
  .object({
    /**
     * A Medical Segmentation Decathlon (or nnU-Net) folder, two folders of images and labels matched by
     * name, or one folder per case holding its image (or one file per input channel: a list) and label.
     */
    data: z.union([
      z.object({ msd: z.string().min(1), imageUnits: IMAGE_UNITS }).strict(),
      z
        .object({
          images: z.string().min(1),
          labels: z.string().min(1),
          labelNames: z.record(z.string()),
          imageUnits: IMAGE_UNITS,
        })
        .strict(),
      z
        .object({
          cases: z.string().min(1),
          image: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
          label: z.string().min(1),
          labelNames: z.record(z.string()),
          imageUnits: IMAGE_UNITS,
        })
        .strict(),
    ]),
    /** Validation (and test) fractions, shuffled by seed; or k folds. */
    split: z
      .object({
        validation: z.number().min(0).lt(1).default(0.2),
        test: z.number().min(0).lt(1).default(0),
        seed: int.nonnegative().default(0),
      })
      .strict()
      .default({}),
    /**
     * Fold `fold` of k. heldOut 'validation' (tuning): the fold validates, the rest train.
     * heldOut 'test' (cross-validated evaluation): the fold is the test set and split.validation
     * of the rest validates, so the checkpoint is never picked on the cases it is scored on.
     */
    folds: z
      .object({
        k: int.min(2),
        fold: int.nonnegative(),
        seed: int.nonnegative().default(0),
        heldOut: z.enum(['validation', 'test']).default('validation'),
      })
      .strict()
      .optional(),
    network: NetworkConfigSchema,
    loss: LossConfigSchema,
    sampler: SamplerConfigSchema.default({}),
    /**
     * A folder of preprocessed training cases (decoded, resampled; reused by runs with the same preprocessing);
     * images are then read from it patch by patch, so a data set larger than memory trains.
     */
    cache: z
      .string()
      .min(1)
      .optional()
      .describe(
        'folder of preprocessed training cases, reused across runs; images are read from it patch by patch ' +
          '(a data set larger than memory trains); absent: cases are held in memory',
      ),
    /** Resample training scans to one spacing (nnU-Net's); predictions are mapped back to each scan's grid. */
    spacing: SpacingSettingSchema,
    /** Crop training volumes to the body (non-zero voxels and every label; nnU-Net's first step). */
    cropToBody: z
      .boolean()
      .default(false)
      .describe('crop training volumes to the box of non-zero voxels and labels (nnU-Net); off: the paper'),
    normalisation: z
      .object({
        kind: z.enum(['minmax', 'zscore', 'window']).default('minmax'),
        window: z.tuple([z.number(), z.number()]).optional(),
        /** Min–max each patch to [0, 1] as it enters the network (the paper). */
        perPatchMinMax: z.boolean().default(true),
      })
      .strict()
      .default({}),
    batchSize: pos.default(1),
    /** On-the-fly augmentation of training patches (all off by default: the paper uses none). */
    augmentation: AugmentationSchema,
    /** Learning-rate schedule over the run, on any optimiser (default constant: the paper's). */
    lrSchedule: LrScheduleSchema,
    /** Patches cut and prepared ahead of the step (the same patches, in the same order, whatever the setting). */
    pipeline: z
      .object({
        /** Worker threads (0: patches are made on the training thread when the step needs them). */
        workers: int
          .min(0)
          .max(32)
          .default(1)
          .describe('worker threads cutting and preparing patches (0: on the training thread, when needed)'),
        /** Patches asked for ahead of the one the step takes. */
        prefetch: pos.max(4096).default(8).describe('patches asked for ahead of the one the step takes'),
      })
      .strict()
      .default({}),
    epochs: pos.default(10),
    /** Stop before an epoch that would end past this many minutes of training (the run ends normally). */
    maxMinutes: z.number().positive().optional(),
    /** At most this many patches per epoch (the first ones of the shuffled epoch). */
    patchesPerEpoch: pos.optional(),
    optimizer: OptimizerConfigSchema.default({ name: 'adadelta' }),
    inference: InferenceSettingsSchema.default({}),
    seed: int.nonnegative().default(0),
    /** Where the network trains and validates: 'cpu', 'cuda' or 'cuda:N' (data stays on the CPU until a batch). */
    device: DeviceSchema.default('cpu'),
    /**
     * What the network computes in (training, validation): 'fp32', 'bf16' mixed precision (float32 weights,
     * optimiser state and checkpoints), or 'auto' (bf16 where this CPU's bf16 convolutions are clearly faster).
     */
    precision: PrecisionSchema.default('auto'),
    /** Data-parallel training over processes and hosts (c10d); batchSize stays the global batch. */
    distributed: DistributedConfigSchema,
    /** Train label values that labelNames does not name as background (default: they are an error). */
    ignoreUnnamedLabels: z.boolean().default(false),
    /** Run directory. */
    out: z.string().min(1),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type InferenceConfig = TrainConfig['inference'];

/** Validates a configuration; `source` names it in errors (a file path, or 'config'). */
export function parseConfig(value: unknown, source = 'config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const lines = configProblems(TrainConfigSchema, value);
  throw new ComboSegError(`${source}: invalid training configuration:\n${lines.join('\n')}`, {
    code: 'invalid-config',
    path: source,
  });
}
