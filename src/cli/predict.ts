import { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { readVolume, writeVolume, imageExtension } from '../data/io.js';
import { loadModel } from '../inference/model.js';
import { resolveModelPath } from '../training/run-dir.js';
import { predictVolume } from '../inference/predict.js';
import { InferenceSettingsSchema, type InferenceSettings } from '../inference/settings.js';
import { problemsOf } from '../util/options.js';
import { Progress } from '../util/progress.js';

/** The inference setting each flag sets: the schema checks the value, the message names the flag. */
const FLAG_SETTINGS = {
  stride: '--stride',
  aggregation: '--aggregation',
  threshold: '--threshold',
  swBatch: '--sw-batch',
  mode: '--mode',
  flipTta: '--tta',
} as const;

interface PredictFlags {
  model: string;
  input: string;
  output: string;
  stride?: string;
  aggregation?: string;
  threshold?: string;
  swBatch?: string;
  mode?: string;
  tta?: boolean;
  probabilities?: boolean;
}

const asNumber = (s: string): number | string => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);

/** Inference settings from `predict`'s flags, checked by the inference schema (the one declaration of them). */
export function settingsFromFlags(o: Omit<PredictFlags, 'model' | 'input' | 'output'>): Partial<InferenceSettings> {
  const given: Record<string, unknown> = {};
  if (o.stride !== undefined) {
    const parts = o.stride.split(/[x×,]/).map(asNumber);
    given.stride = parts.length === 1 ? parts[0] : parts;
  }
  if (o.aggregation !== undefined) given.aggregation = o.aggregation;
  if (o.threshold !== undefined) given.threshold = asNumber(o.threshold);
  if (o.swBatch !== undefined) given.swBatch = asNumber(o.swBatch);
  if (o.mode !== undefined) given.mode = o.mode;
  if (o.tta) given.flipTta = true;
  const schema = InferenceSettingsSchema.partial();
  const problems = problemsOf(schema, given);
  if (problems.length) {
    const lines = problems.map((p) => {
      const key = p.path.split('.')[0] as keyof typeof FLAG_SETTINGS;
      return `${FLAG_SETTINGS[key]} ${p.problem}`;
    });
    const flag = FLAG_SETTINGS[problems[0].path.split('.')[0] as keyof typeof FLAG_SETTINGS];
    throw new ComboSegError(lines.join('; '), { code: 'invalid-option', path: flag });
  }
  // Only what was given: the model's own settings fill the rest.
  const parsed = schema.parse(given);
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => k in given));
}

/** `comboseg predict --model RUN/best -i IN -o OUT`: IN/OUT files or folders. */
export function predictCommand(): Command {
  return new Command('predict')
    .description("segment scans with a trained model; writes label maps with each scan's geometry")
    .requiredOption('--model <path>', 'RUN_DIR/best, RUN_DIR/last, a run folder, or a .safetensors file')
    .requiredOption('-i, --input <path>', 'a scan, or a folder of scans')
    .requiredOption('-o, --output <path>', 'output file (for one scan) or folder')
    .option('--stride <s>', 'sliding-window step: one number or x,y,z (default: from the model)')
    .option('--aggregation <rule>', 'max (the paper) | mean | gaussian')
    .option('--threshold <t>', 'probability threshold')
    .option('--sw-batch <n>', 'windows per forward pass')
    .option('--mode <m>', 'auto | window | whole')
    .option('--tta', 'flip test-time augmentation')
    .option('--probabilities', 'also write one probability map per organ (NAME_prob_ORGAN.nii.gz)')
    .action(async (o: PredictFlags) => {
      const settings = settingsFromFlags(o);
      if (!existsSync(o.input)) {
        throw new ComboSegError(`${o.input}: no such file or folder`, { code: 'not-found', path: o.input });
      }
      const model = loadModel(resolveModelPath(o.model));
      const folder = statSync(o.input).isDirectory();
      const inputs = folder
        ? readdirSync(o.input)
            .filter((f) => imageExtension(f) && !f.startsWith('.'))
            .sort()
            .map((f) => join(o.input, f))
        : [o.input];
      if (!inputs.length) throw new ComboSegError(`${o.input}: no scans`, { code: 'not-found', path: o.input });
      if (folder) mkdirSync(o.output, { recursive: true });
      for (const input of inputs) {
        const scan = await readVolume(input);
        const out = folder ? join(o.output, basename(input)) : o.output;
        let bar: Progress | null = null;
        const pred = predictVolume(model.network, model.meta, scan, settings, (done, total) => {
          bar ??= new Progress({ label: basename(input), total, unit: 'window' });
          bar.set(done);
        });
        await writeVolume(out, pred.labels);
        if (o.probabilities) {
          const ext = imageExtension(out);
          if (ext === null) {
            throw new ComboSegError(`${out}: not an image file name (.nii.gz, .nii, .nrrd, .mha, ...)`, {
              code: 'invalid-option',
              path: '--output',
            });
          }
          for (const [k, p] of pred.probabilities.entries())
            await writeVolume(
              `${out.slice(0, -ext.length)}_prob_${model.meta.labels.names[k].replace(/\W+/g, '_')}${ext}`,
              p,
            );
        }
        console.log(`${input} → ${out} (${pred.mode})`);
      }
      model.network.dispose();
    });
}
