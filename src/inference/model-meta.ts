// What a trained model records about itself (network, options, organs, normalisation statistics,
// patch size, inference settings), checked through one schema. Free of the engine and of Node's
// modules, so the viewer page reads it too (from an ONNX export's metadata).
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import type { LabelSet } from '../data/labels.js';
import type { Normalisation } from '../data/normalise.js';
import { OutputLayoutSchema } from '../losses/layout.js';
import { MAX_SIDE, problemText, problemsOf } from '../util/options.js';
import { JsonSchema, type JsonValue } from '../util/json.js';
import { InferenceSettingsSchema } from './settings.js';

const side = z.number().int().min(1).max(MAX_SIDE);

const LabelSetSchema = z
  .object({ values: z.array(z.number().int().min(1)).min(1), names: z.array(z.string()) })
  .strict()
  .refine((l) => l.names.length === l.values.length, 'needs one name per label value') satisfies z.ZodType<LabelSet>;

const NormalisationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('minmax'), min: z.number(), max: z.number() }).strict(),
  z.object({ kind: z.literal('zscore'), mean: z.number(), std: z.number() }).strict(),
  z.object({ kind: z.literal('window'), low: z.number(), high: z.number() }).strict(),
]) satisfies z.ZodType<Normalisation>;

/** Statistics per input channel; a checkpoint from before channels holds one object (one channel). */
const ChannelNormalisationSchema = z.union([
  z.array(NormalisationSchema).min(1),
  NormalisationSchema.transform((n) => [n]),
]);

/** What a checkpoint's "model" metadata holds; read back through this schema, never cast. */
export const ModelMetaSchema = z
  .object({
    network: z.string(),
    /** The network's options: `inChannels` is the number of input channels. */
    options: z.record(JsonSchema),
    labels: LabelSetSchema,
    /** Normalisation statistics, one per input channel, in channel order. */
    normalisation: ChannelNormalisationSchema,
    /** Names of the input channels (dataset.json's modalities, a case folder's image files), when known. */
    channels: z.array(z.string()).min(1).optional(),
    perPatchMinMax: z.boolean(),
    /** The voxel spacing (mm, x y z) the model was trained on: scans are resampled to it, predictions mapped back. */
    spacing: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).optional(),
    /** Training patch size (x, y, z): the sliding window. */
    patchSize: z.tuple([side, side, side]),
    inference: InferenceSettingsSchema,
    epoch: z.number().int().min(0),
    /** Mean validation Dice over organs at that epoch, if validated. */
    validationDice: z.number().nullable(),
    /** The output layout the loss declared; checkpoints from before layouts were recorded are sigmoid. */
    layout: OutputLayoutSchema.default('sigmoid'),
  })
  .strict()
  .superRefine((m, ctx) => {
    const C = inChannelsOf(m.options);
    if (m.normalisation.length !== C) {
      const message = `${m.normalisation.length} set(s) of statistics for a network of ${C} input channel(s)`;
      ctx.addIssue({ code: 'custom', path: ['normalisation'], message });
    }
    if (m.channels && m.channels.length !== C) {
      const message = `${m.channels.length} channel name(s) for a network of ${C} input channel(s)`;
      ctx.addIssue({ code: 'custom', path: ['channels'], message });
    }
  });
export type ModelMeta = z.output<typeof ModelMetaSchema>;
/** Model metadata as written (normalisation: one object for one channel, or a list). */
export type ModelMetaInput = z.input<typeof ModelMetaSchema>;

/** The input channels of a network's options (`inChannels`; 1 when absent). */
function inChannelsOf(options: Record<string, unknown>): number {
  const c = options.inChannels;
  return typeof c === 'number' && Number.isInteger(c) && c >= 1 ? c : 1;
}

/** How many input channels a model takes. */
export function modelChannels(meta: ModelMeta): number {
  return inChannelsOf(meta.options);
}

/** The model's channels in words: "3 channels (T1w.nii.gz, T2w.nii.gz, T2star.nii.gz)", "1 channel". */
export function describeChannels(meta: ModelMeta): string {
  const C = modelChannels(meta);
  return `${C} channel${C === 1 ? '' : 's'}${meta.channels ? ` (${meta.channels.join(', ')})` : ''}`;
}

/** Throws a clear error when a scan's channel count is not the model's; `what` names the scan. */
export function checkChannels(meta: ModelMeta, channels: number, what = 'the scan'): void {
  const C = modelChannels(meta);
  if (channels === C) return;
  const how =
    C > 1
      ? 'give one file per channel (a case folder, or NAME_0000, NAME_0001, ... files) or one 4-D image'
      : 'give a single 3-D image';
  const has = `${channels} channel${channels === 1 ? '' : 's'}`;
  throw new ComboSegError(`${what} has ${has}; the model takes ${describeChannels(meta)}: ${how}`, {
    code: 'invalid-input',
  });
}

/** The model metadata of a checkpoint, checked; `file` names it in errors. */
export function parseModelMeta(value: JsonValue | undefined, file: string): ModelMeta {
  if (value === undefined)
    throw new ComboSegError(`${file}: not a comboseg model (no "model" metadata)`, { code: 'bad-file', path: file });
  const problems = problemsOf(ModelMetaSchema, value, 'field');
  if (problems.length) {
    const what = problems.map((p) => problemText({ ...p, path: `model.${p.path}` }, 'field')).join('; ');
    throw new ComboSegError(`${file}: damaged model metadata: ${what}`, { code: 'bad-file', path: file });
  }
  return ModelMetaSchema.parse(value);
}
