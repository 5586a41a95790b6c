import { Command } from 'commander';
import { z } from 'zod';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { DeviceSchema } from '../engine/device.js';
import { PrecisionSchema, type PrecisionSetting } from '../engine/precision.js';
import { writeVolume, imageExtension } from '../data/io.js';
import { dicomSeriesFiles, writeDicomSeg } from '../data/dicom-seg.js';
import { loadCaseImage } from '../data/datasets.js';
import { hasDicomMarker } from '../data/dcmjs.js';
import { channelCount } from '../data/volume.js';
import { checkChannels, describeChannels, modelChannels, type ModelMeta } from '../inference/model.js';
import { libtorchSegmenter, onnxSegmenter, runtimeFor, type Segmenter } from './segmenters.js';
import { largestComponentOrgans } from '../inference/postprocess.js';
import { InferenceSettingsSchema, type InferenceSettings } from '../inference/settings.js';
import { checkFlags } from '../util/options.js';
import { Progress } from '../util/progress.js';
import { FolderLock } from '../util/lock.js';
import { removeStaleWrites, writeFileAtomic } from '../util/fs.js';

/** The inference setting each flag sets: the schema checks the value, the message names the flag. */
const FLAG_SETTINGS = {
  stride: '--stride',
  aggregation: '--aggregation',
  threshold: '--threshold',
  swBatch: '--sw-batch',
  mode: '--mode',
  flipTta: '--tta',
  largestComponent: '--largest-component',
} as const;

interface PredictFlags {
  /** One or more (an ensemble): each --model, comma lists split. */
  model: string[];
  input: string;
  output: string;
  stride?: string;
  aggregation?: string;
  threshold?: string;
  swBatch?: string;
  mode?: string;
  tta?: boolean;
  /** true (every organ) or a comma list of organ names. */
  largestComponent?: boolean | string;
  probabilities?: boolean;
  device?: string;
  precision?: string;
  runtime?: string;
  format?: string;
  /** A DICOM folder holding several series: the SeriesInstanceUID to segment. */
  series?: string;
}

const asNumber = (s: string): number | string => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);

/** Inference settings from `predict`'s flags, checked by the inference schema (the one declaration of them). */
export function settingsFromFlags(
  o: Omit<PredictFlags, 'model' | 'input' | 'output' | 'format' | 'series'>,
): Partial<InferenceSettings> {
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
  if (o.largestComponent !== undefined) {
    const lc = o.largestComponent;
    given.largestComponent = typeof lc === 'string' ? lc.split(',').flatMap((n) => n.trim() || []) : lc;
  }
  const parsed = checkFlags(InferenceSettingsSchema.partial(), given, FLAG_SETTINGS);
  // Only what was given: the model's own settings fill the rest.
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => k in given));
}

/** One scan to segment: its image files (one, or one per channel) and where its label map goes. */
export interface PredictionInput {
  name: string;
  files: string[];
  out: string;
  /** --format dicom-seg: the source series' files, which the DICOM SEG written at `out` references. */
  dicomSource?: string[];
  /** A DICOM folder of several series: the one to read. */
  series?: string;
}

const imageFilesIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => imageExtension(f) && !f.startsWith('.') && statSync(join(dir, f)).isFile())
    .sort();

/** The model's channel file names (a case folder's image files at training), or null when it has none. */
function channelFileNames(meta: ModelMeta): string[] | null {
  return meta.channels?.every((n) => imageExtension(n) !== null) ? meta.channels : null;
}

/**
 * The scans of a folder for a model of C > 1 channels: the folder itself, or its subfolders, when
 * they hold the model's channel files by name (the case folders it was trained on); files
 * `NAME_0000.ext` … `NAME_{C-1}.ext` (nnU-Net) grouped by NAME; any other file alone (a 4-D image).
 */
function channelCases(input: string, output: string, meta: ModelMeta): PredictionInput[] {
  const C = modelChannels(meta);
  const names = channelFileNames(meta);
  const holdsAll = (dir: string) => names?.every((n) => existsSync(join(dir, n))) ?? false;
  const caseOut = (name: string, first: string) => join(output, `${name}${imageExtension(first) ?? '.nii.gz'}`);
  if (names && holdsAll(input)) {
    const files = names.map((n) => join(input, n));
    const out = imageExtension(output) ? output : caseOut(basename(input), names[0]);
    return [{ name: input, files, out }];
  }
  const cases: PredictionInput[] = [];
  for (const sub of readdirSync(input).sort()) {
    const dir = join(input, sub);
    if (names && statSync(dir).isDirectory() && holdsAll(dir))
      cases.push({ name: dir, files: names.map((n) => join(dir, n)), out: caseOut(sub, names[0]) });
  }
  const groups = new Map<string, Map<number, string>>();
  for (const f of imageFilesIn(input)) {
    const ext = imageExtension(f) ?? '';
    const m = /^(.*)_(\d{4})$/.exec(f.slice(0, f.length - ext.length));
    if (!m) {
      cases.push({ name: join(input, f), files: [join(input, f)], out: join(output, f) });
      continue;
    }
    const key = `${m[1]}${ext}`;
    const group = groups.get(key) ?? new Map<number, string>();
    groups.set(key, group.set(Number(m[2]), join(input, f)));
  }
  for (const [key, group] of groups) {
    const files = Array.from({ length: C }, (_, k) => group.get(k));
    const ext = imageExtension(key) ?? '';
    const id = key.slice(0, key.length - ext.length);
    if (files.some((f) => f === undefined) || group.size !== C) {
      const have = [...group.keys()].sort((a, b) => a - b).map((k) => `_${String(k).padStart(4, '0')}`);
      const why = `case '${id}' has channel files ${have.join(', ')}; the model takes ${describeChannels(meta)}`;
      throw new ComboSegError(
        `${input}: ${why}, named ${id}_0000${ext} … ${id}_${String(C - 1).padStart(4, '0')}${ext}`,
        {
          code: 'invalid-input',
          path: input,
        },
      );
    }
    cases.push({ name: join(input, id), files: files.filter((f) => f !== undefined), out: join(output, key) });
  }
  return cases.sort((a, b) => a.out.localeCompare(b.out));
}

/**
 * What `predict -i INPUT -o OUTPUT` segments. A file: one scan (for a model of several channels,
 * a 4-D image). A folder: with a one-channel model, each image file; with a model of C > 1
 * channels, cases of C channel files (see `channelCases`).
 */
export function predictionInputs(input: string, output: string, meta: ModelMeta): PredictionInput[] {
  if (!existsSync(input)) {
    throw new ComboSegError(`${input}: no such file or folder`, { code: 'not-found', path: input });
  }
  if (!statSync(input).isDirectory()) return [{ name: input, files: [input], out: output }];
  // A folder of DICOM slices (no image files) is one scan: the series (src/data/dicom.ts).
  if (!imageFilesIn(input).length && holdsDicom(input)) {
    // -o a file name (with an image extension), or a folder that gets SERIES_FOLDER.nii.gz.
    const out = imageExtension(output) ? output : join(output, `${basename(resolve(input))}.nii.gz`);
    return [{ name: input, files: [input], out }];
  }
  const inputs =
    modelChannels(meta) > 1
      ? channelCases(input, output, meta)
      : imageFilesIn(input).map((f) => ({ name: join(input, f), files: [join(input, f)], out: join(output, f) }));
  if (!inputs.length) throw new ComboSegError(`${input}: no scans`, { code: 'not-found', path: input });
  return inputs;
}

/** Whether a folder's first file (by name) is a DICOM file (the 'DICM' marker after the 128-byte preamble). */
function holdsDicom(folder: string): boolean {
  const first = readdirSync(folder)
    .sort()
    .map((f) => join(folder, f))
    .find((f) => !f.split('/').pop()?.startsWith('.') && statSync(f).isFile());
  if (!first) return false;
  const fd = openSync(first, 'r');
  try {
    const head = Buffer.alloc(132);
    return readSync(fd, head, 0, 132, 0) === 132 && hasDicomMarker(head);
  } finally {
    closeSync(fd);
  }
}

/** What `predict` writes: label map images (format from the extension) or DICOM Segmentation objects. */
export type PredictFormat = 'image' | 'dicom-seg';

/** The `--format` flag ('image' when not given). */
export function formatFlag(value: string | undefined): PredictFormat {
  const schema = z.object({ format: z.enum(['image', 'dicom-seg']).default('image') });
  return checkFlags(schema, { format: value }, { format: '--format' }).format;
}

/**
 * What `predict --format dicom-seg -i SERIES -o OUT` segments: one DICOM series folder (its files are what
 * the SEG references); OUT is the .dcm file, or a folder that gets SERIES_NAME.dcm. Any other input (an
 * image file, a folder of image files) is refused, before a model is read.
 */
export async function dicomSegInputs(input: string, output: string, series?: string): Promise<PredictionInput[]> {
  const refuse = (why: string): never => {
    const msg = `--format dicom-seg writes a DICOM SEG referencing the DICOM series it segments: -i ${input} ${why}`;
    throw new ComboSegError(msg, { code: 'invalid-option', path: '--format' });
  };
  if (!existsSync(input))
    throw new ComboSegError(`${input}: no such file or folder`, { code: 'not-found', path: input });
  if (!statSync(input).isDirectory()) refuse('is a file, not a DICOM series folder (use --format image)');
  let files: string[] = [];
  try {
    files = await dicomSeriesFiles(input, series);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    refuse(`is not one DICOM series (${why.startsWith(`${input}: `) ? why.slice(input.length + 2) : why})`);
  }
  const name = basename(resolve(input));
  const out = output.toLowerCase().endsWith('.dcm') ? output : join(output, `${name}.dcm`);
  return [{ name: input, files: [input], out, dicomSource: files, ...(series ? { series } : {}) }];
}

/** `comboseg predict --model RUN/best -i IN -o OUT`: IN/OUT files or folders. */
export function predictCommand(): Command {
  return new Command('predict')
    .description("segment scans with a trained model; writes label maps with each scan's geometry")
    .requiredOption(
      '--model <path>',
      'RUN_DIR/best, RUN_DIR/last, a run folder, or a .safetensors file; several (repeated or a comma list): ' +
        'an ensemble averaging their probabilities',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').filter((p) => p !== '')],
    )
    .requiredOption(
      '-i, --input <path>',
      'a scan, or a folder of scans (several channels: a case folder, NAME_0000/_0001 files, or 4-D images)',
    )
    .requiredOption('-o, --output <path>', 'output file (for one scan) or folder')
    .option('--stride <s>', 'sliding-window step: one number or x,y,z (default: from the model)')
    .option('--aggregation <rule>', 'max (the paper) | mean | gaussian')
    .option('--threshold <t>', 'probability threshold')
    .option('--sw-batch <n>', 'windows per forward pass')
    .option('--mode <m>', 'auto | window | whole')
    .option('--tta', 'flip test-time augmentation')
    .option(
      '--largest-component [organs]',
      'keep only the largest connected component (26-connected) of each organ, or of the organs named (a,b)',
    )
    .option(
      '--runtime <r>',
      'libtorch (checkpoints; default) | onnx (an exported .onnx file, on onnxruntime; the default for .onnx)',
    )
    .option('--device <d>', 'where the network runs: cpu (default), cuda or cuda:N; scans and results stay on the CPU')
    .option('--precision <p>', 'auto (default: bf16 where this CPU computes it clearly faster) | fp32 | bf16')
    .option('--series <uid>', 'a DICOM folder holding several series: the SeriesInstanceUID to segment')
    .option('--probabilities', 'also write one probability map per organ (NAME_prob_ORGAN.nii.gz)')
    .option(
      '--format <f>',
      "image (default: label maps, the file type from -o's extension) | dicom-seg (-i a DICOM series folder: " +
        'a DICOM Segmentation object referencing it, one segment per organ found)',
    )
    .action(async (o: PredictFlags) => {
      const settings = settingsFromFlags(o);
      const format = formatFlag(o.format);
      const openModels = segmenterFor(o); // flags checked before any file is read
      if (!existsSync(o.input)) {
        throw new ComboSegError(`${o.input}: no such file or folder`, { code: 'not-found', path: o.input });
      }
      if (resolve(o.input) === resolve(o.output)) {
        throw new ComboSegError(`-o ${o.output} is the input folder: the label maps would overwrite the scans`, {
          code: 'invalid-option',
          path: '--output',
        });
      }
      const segInputs = format === 'dicom-seg' ? await dicomSegInputs(o.input, o.output, o.series) : null;
      const seg = await openModels();
      try {
        const first = seg.models[0];
        largestComponentOrgans(first.meta.labels, { ...first.meta.inference, ...settings }.largestComponent);
        const inputs = (segInputs ?? predictionInputs(o.input, o.output, first.meta)).map((i) =>
          o.series ? { ...i, series: o.series } : i,
        );
        // A folder of predictions (not one case folder of channel files written to one output file).
        const toFolder = inputs.every((i) => i.out !== o.output);
        const folder = toFolder
          ? openPredictionFolder(
              o.output,
              seg.models.map((m) => m.path),
            )
          : null;
        try {
          for (const input of inputs) {
            await predictOne(seg, input, settings, o.probabilities ?? false);
            folder?.done(input.name, input.out);
          }
          folder?.finish();
        } finally {
          folder?.lock.release();
        }
      } finally {
        await seg.close();
      }
    });
}

/** Opens the models of `--model` on the runtime `--runtime` asks for (or their files call for); flags checked now. */
function segmenterFor(o: PredictFlags): () => Promise<Segmenter> {
  const runtime = runtimeFor(o.runtime, o.model);
  if (runtime === 'libtorch') {
    const [device, precision] = [deviceFlag(o.device), precisionFlag(o.precision)];
    return () => Promise.resolve(libtorchSegmenter(o.model, device, precision));
  }
  for (const [flag, value] of [
    ['--device', o.device],
    ['--precision', o.precision],
  ] as const) {
    if (value !== undefined) {
      throw new ComboSegError(`${flag} applies to the libtorch runtime; onnx runs on the CPU in float32`, {
        code: 'invalid-option',
        path: flag,
      });
    }
  }
  return () => onnxSegmenter(o.model);
}

/** The `--device` flag, checked by the engine's device schema. */
export function deviceFlag(value: string | undefined): string {
  return checkFlags(z.object({ device: DeviceSchema.default('cpu') }), { device: value }, { device: '--device' })
    .device;
}

/** The `--precision` flag, checked by the engine's precision schema ('auto' when not given). */
export function precisionFlag(value: string | undefined): PrecisionSetting {
  const schema = z.object({ precision: PrecisionSchema.default('auto') });
  return checkFlags(schema, { precision: value }, { precision: '--precision' }).precision;
}

/** The marker of a prediction folder: complete only once every case is written. */
export const PREDICTIONS_FILE = 'comboseg-predictions.json';

/**
 * A folder of predictions has one writer (a lock) and a marker, `comboseg-predictions.json`, rewritten
 * after each case: `complete: false` until the last one, so a set cut short says so.
 */
function openPredictionFolder(dir: string, paths: string[]) {
  mkdirSync(dir, { recursive: true });
  const lock = FolderLock.acquire(dir, 'predict', (m) => console.log(m));
  const stale = removeStaleWrites(dir);
  if (stale.length) console.log(`${dir}: removed ${stale.length} partial write(s) a stopped predict left`);
  // One model: its path; an ensemble: the list.
  const model = paths.length === 1 ? paths[0] : paths;
  const marker = { model, started: new Date().toISOString(), complete: false, cases: {} as Record<string, string> };
  const write = () => writeFileAtomic(join(dir, PREDICTIONS_FILE), Buffer.from(JSON.stringify(marker, null, 2)));
  write();
  return {
    lock,
    done(name: string, out: string): void {
      marker.cases[basename(name)] = relative(dir, out);
      write();
    },
    finish(): void {
      marker.complete = true;
      write();
    },
  };
}

/** Segments one scan (with one model, or the mean of several) and writes its label map (and probability maps). */
async function predictOne(
  seg: Segmenter,
  input: PredictionInput,
  settings: Partial<InferenceSettings>,
  probabilities: boolean,
): Promise<void> {
  const [first] = input.files;
  const channelFiles = input.files.length > 1 ? { channelFiles: input.files } : {};
  const scan = await loadCaseImage({ id: basename(input.name), image: first, ...channelFiles }, input.series);
  const what = input.files.length > 1 ? `case ${input.name}` : input.name;
  const { models } = seg;
  for (const m of models) checkChannels(m.meta, channelCount(scan), what);
  mkdirSync(dirname(input.out) || '.', { recursive: true });
  let bar: Progress | null = null;
  let barOf = -1;
  const pred = await seg.segment(scan, settings, (done, total, m) => {
    if (barOf !== m) {
      const label =
        models.length > 1 ? `${basename(input.name)} [model ${m + 1}/${models.length}]` : basename(input.name);
      [bar, barOf] = [new Progress({ label, total, unit: 'window' }), m];
    }
    bar?.set(done);
  });
  if (input.dicomSource) await writeDicomSeg(input.out, pred.labels, models[0].meta.labels, input.dicomSource);
  else await writeVolume(input.out, pred.labels);
  if (probabilities) {
    // Beside a DICOM SEG (NAME.dcm): NAME_prob_ORGAN.nii.gz.
    const ext = input.dicomSource ? '.dcm' : imageExtension(input.out);
    if (ext === null) {
      throw new ComboSegError(`${input.out}: not an image file name (.nii.gz, .nii, .nrrd, .mha, ...)`, {
        code: 'invalid-option',
        path: '--output',
      });
    }
    const names = models[0].meta.labels.names;
    const probExt = input.dicomSource ? '.nii.gz' : ext;
    for (const [k, p] of pred.probabilities.entries())
      await writeVolume(`${input.out.slice(0, -ext.length)}_prob_${names[k].replace(/\W+/g, '_')}${probExt}`, p);
  }
  console.log(`${input.name} → ${input.out} (${[...new Set(pred.modes)].join(', ')})`);
}
