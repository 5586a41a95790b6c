// Worker-thread side of a segmentation job: reads the scan (and the truth, if
// any), segments it with the model, and writes what the viewer shows as NIfTI
// into the job's folder. Progress and the outcome go back as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { toWorkerError, type WorkerError } from '../util/worker.js';
import { readLabels, readVolume, writeVolume } from '../data/io.js';
import { sameGrid, withData } from '../data/volume.js';
import { loadModel } from '../inference/model.js';
import { predictVolume } from '../inference/predict.js';
import { evaluateCase, type CaseMetrics } from '../metrics/evaluate.js';
import { differenceMap } from './difference.js';

export interface SegmentJobInput {
  model: string;
  image: string;
  /** How messages name the scan (a case id, an upload's own name), never where the server keeps it. */
  title: string;
  label: string | null;
  outDir: string;
  caseId: string;
}

export type SegmentMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | {
      type: 'done';
      files: string[];
      metrics: CaseMetrics | null;
      organs: { value: number; name: string }[];
      mode: string;
    }
  | { type: 'error'; error: WorkerError };

if (!parentPort) throw new Error('segment-worker.ts runs in a worker thread (started by the job queue)');
const port = parentPort;
const send = (m: SegmentMessage) => port.postMessage(m);
const input = workerData as SegmentJobInput;

try {
  send({ type: 'progress', stage: 'reading', done: 0, total: 1 });
  const scan = await readVolume(input.image, { name: input.title });
  const truth = input.label ? await readLabels(input.label) : null;
  if (truth && !sameGrid(scan, truth)) {
    const why = `case '${input.caseId}': the label is not on the scan's grid`;
    throw new ComboSegError(why, { code: 'invalid-input', path: input.label ?? undefined });
  }
  const model = loadModel(input.model);
  let pred;
  try {
    pred = predictVolume(model.network, model.meta, scan, {}, (done, total) =>
      send({ type: 'progress', stage: 'segmenting', done, total }),
    );
  } finally {
    model.network.dispose();
  }
  send({ type: 'progress', stage: 'writing', done: 0, total: 1 });
  // Foreground probability: the most likely organ's probability at each voxel.
  const fg = new Float32Array(pred.labels.data.length);
  for (const p of pred.probabilities) for (let i = 0; i < fg.length; i++) if (p.data[i] > fg[i]) fg[i] = p.data[i];
  const files = ['image.nii.gz', 'prediction.nii.gz', 'probability.nii.gz'];
  await writeVolume(join(input.outDir, 'image.nii.gz'), scan);
  await writeVolume(join(input.outDir, 'prediction.nii.gz'), pred.labels);
  await writeVolume(join(input.outDir, 'probability.nii.gz'), withData(scan, fg, 'float32'));
  let metrics: CaseMetrics | null = null;
  if (truth) {
    await writeVolume(join(input.outDir, 'label.nii.gz'), truth);
    await writeVolume(
      join(input.outDir, 'difference.nii.gz'),
      withData(scan, differenceMap(pred.labels.data, truth.data), 'uint8'),
    );
    files.push('label.nii.gz', 'difference.nii.gz');
    metrics = evaluateCase(input.caseId, pred.labels, truth, model.meta.labels);
  }
  const organs = model.meta.labels.values.map((value, k) => ({ value, name: model.meta.labels.names[k] }));
  send({ type: 'done', files, metrics, organs, mode: pred.mode });
} catch (e) {
  send({ type: 'error', error: toWorkerError(e) });
}
port.close();
