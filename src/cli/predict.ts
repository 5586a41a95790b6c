import { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { readVolume, writeVolume, imageExtension } from '../data/io.js';
import { loadModel } from '../inference/model.js';
import { predictVolume, type InferenceSettings } from '../inference/predict.js';
import { Progress } from '../util/progress.js';

const triple = (name: string) => (s: string): [number, number, number] => {
  const v = s.split(/[x×,]/).map(Number);
  const t = v.length === 1 ? [v[0], v[0], v[0]] : v;
  if (t.length !== 3 || t.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new ComboSegError(
      `${name} must be one positive integer or three (x,y,z), got '${s}'`,
      { code: 'invalid-option', path: name },
    );
  }
  return t as [number, number, number];
};

/** `comboseg predict --model RUN/best -i IN -o OUT`: IN/OUT files or folders. */
export function predictCommand(): Command {
  return new Command('predict')
    .description('segment scans with a trained model; writes label maps with each scan\'s geometry')
    .requiredOption('--model <path>', 'RUN_DIR/best, RUN_DIR/last, a run folder, or a .safetensors file')
    .requiredOption('-i, --input <path>', 'a scan, or a folder of scans')
    .requiredOption('-o, --output <path>', 'output file (for one scan) or folder')
    .option('--stride <s>', 'sliding-window step: one number or x,y,z (default: from the model)', triple('--stride'))
    .option('--aggregation <rule>', 'max (the paper) | mean | gaussian')
    .option('--threshold <t>', 'probability threshold', Number)
    .option('--sw-batch <n>', 'windows per forward pass', Number)
    .option('--mode <m>', 'auto | window | whole')
    .option('--tta', 'flip test-time augmentation')
    .option('--probabilities', 'also write one probability map per organ (NAME_prob_ORGAN.nii.gz)')
    .action(async (o: { model: string; input: string; output: string; stride?: [number, number, number]; aggregation?: string; threshold?: number; swBatch?: number; mode?: string; tta?: boolean; probabilities?: boolean }) => {
      if (o.aggregation && !['max', 'mean', 'gaussian'].includes(o.aggregation)) {
        throw new ComboSegError(
          `--aggregation must be max, mean or gaussian, got '${o.aggregation}'`,
          { code: 'invalid-option', path: '--aggregation' },
        );
      }
      if (o.mode && !['auto', 'window', 'whole'].includes(o.mode)) {
        throw new ComboSegError(
          `--mode must be auto, window or whole, got '${o.mode}'`,
          { code: 'invalid-option', path: '--mode' },
        );
      }
      if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold < 1)) {
        throw new ComboSegError('--threshold must be in (0, 1)', { code: 'invalid-option', path: '--threshold' });
      }
      if (!existsSync(o.input)) {
        throw new ComboSegError(`${o.input}: no such file or folder`, { code: 'not-found', path: o.input });
      }
      const model = loadModel(o.model);
      const settings: Partial<InferenceSettings> = {
        ...(o.stride && { stride: o.stride }), ...(o.aggregation && { aggregation: o.aggregation as InferenceSettings['aggregation'] }),
        ...(o.threshold !== undefined && { threshold: o.threshold }), ...(o.swBatch && { swBatch: o.swBatch }),
        ...(o.mode && { mode: o.mode as InferenceSettings['mode'] }), ...(o.tta && { flipTta: true }),
      };
      const folder = statSync(o.input).isDirectory();
      const inputs = folder ? readdirSync(o.input).filter((f) => imageExtension(f) && !f.startsWith('.')).sort().map((f) => join(o.input, f)) : [o.input];
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
          const ext = imageExtension(out)!;
          for (const [k, p] of pred.probabilities.entries()) await writeVolume(`${out.slice(0, -ext.length)}_prob_${model.meta.labels.names[k].replace(/\W+/g, '_')}${ext}`, p);
        }
        console.log(`${input} → ${out} (${pred.mode})`);
      }
      model.network.dispose();
    });
}
