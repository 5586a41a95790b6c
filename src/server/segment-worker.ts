// Worker-thread side of a segmentation job: reads the scan (one file, or one per
// channel for a model of several; the truth, if any), segments it with the model, and
// writes what the viewer shows as NIfTI into the job's folder (the image: its first
// channel). Progress and the outcome go back as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { basename, join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import type { Precision, PrecisionSetting } from '../engine/precision.js';
import { resolvePrecision } from '../engine/precision-default.js';
import { toWorkerError, type WorkerError } from '../util/worker.js';
import { readLabels, readVolume, writeVolume } from '../data/io.js';
import { channelCount, channelOf, sameGrid, stackChannels, withData, type Volume } from '../data/volume.js';
import {
  checkChannels,
  describeChannels,
  loadModel,
  modelChannels,
  type LoadedModel,
  type ModelMeta,
} from '../inference/model.js';
import { predictVolume, type Prediction } from '../inference/predict.js';
import { evaluateCase, type CaseMetrics } from '../metrics/evaluate.js';
import { differenceMap } from '../data/difference.js';

export interface SegmentJobInput {
  model: string;
  /** One file, or one file per channel in the model's order. */
  image: string | string[];
  /** How messages name the scan (a case id, an upload's own name), never where the server keeps it. */
  title: string;
  label: string | null;
  outDir: string;
  caseId: string;
  /** Where the network runs ('cpu', 'cuda', 'cuda:N'); the scan and results stay on the CPU. */
  device: string;
  /** What the network computes in; 'auto' is resolved here, for `device` (a measurement on the CPU). */
  precision: PrecisionSetting;
}

export type SegmentMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | {
      type: 'done';
      files: string[];
      metrics: CaseMetrics | null;
      organs: { value: number; name: string }[];
      mode: string;
      /** The precision the network computed in (`precision` resolved). */
      precision: Precision;
    }
  | { type: 'error'; error: WorkerError };

if (!parentPort) throw new Error('segment-worker.ts runs in a worker thread (started by the job queue)');
const port = parentPort;
const send = (m: SegmentMessage) => port.postMessage(m);
const input = workerData as SegmentJobInput;

/**
 * The scan, every channel on one grid; named in messages by the job's title (and each channel
 * file's own name), never by where the server keeps it.
 */
async function readScan(meta: ModelMeta): Promise<Volume> {
  const files = typeof input.image === 'string' ? [input.image] : input.image;
  const names = files.length > 1 ? files.map((f) => `${input.title}: ${basename(f)}`) : [input.title];
  const channels: Volume[] = [];
  for (const [k, f] of files.entries()) channels.push(await readVolume(f, { name: names[k] }));
  const scan = stackChannels(channels, names);
  if (files.length === 1 && channelCount(scan) === 1 && modelChannels(meta) > 1) {
    const why = `'${input.title}' is one 3-D image; the model takes ${describeChannels(meta)}`;
    const how = 'upload one 4-D NIfTI holding every channel on its last axis, or segment a case of the data set';
    throw new ComboSegError(`${why}: ${how}`, { code: 'invalid-input' });
  }
  checkChannels(meta, channelCount(scan), `'${input.title}'`);
  return scan;
}

/** The scan, the truth (if any) and the prediction; the network is freed whatever happens. */
async function segment(model: LoadedModel): Promise<{ scan: Volume; truth: Volume | null; pred: Prediction }> {
  try {
    const scan = await readScan(model.meta);
    const truth = input.label ? await readLabels(input.label) : null;
    if (truth && !sameGrid(scan, truth)) {
      const why = `case '${input.caseId}': the label is not on the scan's grid`;
      throw new ComboSegError(why, { code: 'invalid-input', path: input.label ?? undefined });
    }
    const pred = predictVolume(model.network, model.meta, scan, {}, (done, total) =>
      send({ type: 'progress', stage: 'segmenting', done, total }),
    );
    return { scan, truth, pred };
  } finally {
    model.network.dispose();
  }
}

try {
  send({ type: 'progress', stage: 'reading', done: 0, total: 1 });
  const model = loadModel(input.model);
  model.network.to(input.device);
  const precision = resolvePrecision(input.precision, input.device);
  model.network.precision = precision;
  const { scan, truth, pred } = await segment(model);
  send({ type: 'progress', stage: 'writing', done: 0, total: 1 });
  // Foreground probability: the most likely organ's probability at each voxel.
  const fg = new Float32Array(pred.labels.data.length);
  for (const p of pred.probabilities) for (let i = 0; i < fg.length; i++) if (p.data[i] > fg[i]) fg[i] = p.data[i];
  const files = ['image.nii.gz', 'prediction.nii.gz', 'probability.nii.gz'];
  await writeVolume(join(input.outDir, 'image.nii.gz'), channelOf(scan, 0));
  await writeVolume(join(input.outDir, 'prediction.nii.gz'), pred.labels);
  await writeVolume(join(input.outDir, 'probability.nii.gz'), withData(scan, fg, 'float32'));
  let metrics: CaseMetrics | null = null;
  if (truth) {
    await writeVolume(join(input.outDir, 'label.nii.gz'), truth);
    const diff = differenceMap(pred.labels.data, truth.data);
    const diffType = diff instanceof Uint8Array ? 'uint8' : 'uint16';
    await writeVolume(join(input.outDir, 'difference.nii.gz'), withData(scan, diff, diffType));
    files.push('label.nii.gz', 'difference.nii.gz');
    metrics = evaluateCase(input.caseId, pred.labels, truth, model.meta.labels);
  }
  const organs = model.meta.labels.values.map((value, k) => ({ value, name: model.meta.labels.names[k] }));
  send({ type: 'done', files, metrics, organs, mode: pred.mode, precision });
} catch (e) {
  send({ type: 'error', error: toWorkerError(e) });
}
port.close();
