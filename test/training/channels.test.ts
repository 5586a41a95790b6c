// Several input channels end to end on real data: the spinal-cord case in three MRI contrasts
// (T1w, T2w, T2*) with its manual cord mask trains a network of 3 input channels; the checkpoint
// keeps per-channel statistics; predict (API, CLI, server jobs) segments the case on its grid.
// Old checkpoints (one normalisation object) still load.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from '../../src/engine/errors.js';
import { loadSafetensors, saveSafetensors } from '../../src/engine/safetensors.js';
import { dispose } from '../../src/engine/scope.js';
import { readLabels, readVolume } from '../../src/data/io.js';
import { loadCaseImage } from '../../src/data/datasets.js';
import { channelCount, sameGrid, type Volume } from '../../src/data/volume.js';
import { train } from '../../src/training/trainer.js';
import { loadModel } from '../../src/inference/model.js';
import { predictVolume } from '../../src/inference/predict.js';
import { create } from '../../src/networks/registry.js';
import { toJson } from '../../src/util/json.js';
import { predictionInputs } from '../../src/cli/predict.js';
import { serve } from '../../src/server/server.js';
import { SHARED_DATA, skipWithoutData } from '../data/shared-data.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const CORD = join(SHARED_DATA, 'spleen-ct-and-cord');
const CONTRASTS = ['T1w', 'T2w', 'T2star'];
const FILES = CONTRASTS.map((c) => `${c}.nii.gz`);
const contrastFile = (c: string) => join(CORD, 'sub-unf01', 'anat', `sub-unf01_${c}.nii.gz`);
const cordLabel = join(CORD, 'labels', 'sub-unf01', 'anat', 'sub-unf01_T2w_seg-manual.nii.gz');

/** The smallest and largest value (no spread: volumes are large). */
function range(xs: ArrayLike<number>): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    lo = Math.min(lo, xs[i]);
    hi = Math.max(hi, xs[i]);
  }
  return [lo, hi];
}

const root = mkdtempSync(join(tmpdir(), 'comboseg-channels-train-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A served folder: data/sub-unf01/{T1w,T2w,T2star,cord}.nii.gz linking to the shared files, and runs/. */
function caseFolder(): string {
  const dir = join(root, 'data', 'sub-unf01');
  mkdirSync(dir, { recursive: true });
  for (const c of CONTRASTS) symlinkSync(contrastFile(c), join(dir, `${c}.nii.gz`));
  symlinkSync(cordLabel, join(dir, 'cord.nii.gz'));
  return dir;
}

const config = (out: string) => ({
  data: { cases: join(root, 'data'), image: FILES, label: 'cord.nii.gz', labelNames: { 1: 'cord' } },
  split: { validation: 0, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo', options: { beta: 0.5 } },
  sampler: { kind: 'paper', patchSize: [16, 16, 16], perOrgan: 2, background: 2 },
  batchSize: 2,
  epochs: 1,
  patchesPerEpoch: 4,
  optimizer: { name: 'adam', lr: 0.003 },
  inference: { mode: 'whole' },
  seed: 1,
  out,
});

test(
  'a 3-contrast case trains a 3-channel network; predict gives a label map on its grid (API, CLI, jobs)',
  { skip: skipWithoutData },
  async () => {
    const dir = caseFolder();
    const run = join(root, 'runs', 'cord');
    await train(config(run));
    const model = loadModel(join(run, 'best'));
    try {
      assert.equal(model.network.options.inChannels, 3);
      assert.equal(model.meta.options.inChannels, 3);
      assert.deepEqual(model.meta.channels, FILES);
      const st = loadSafetensors(join(run, 'best.safetensors'));
      dispose(st.tensors);
      const stored = (st.metadata.model as { normalisation: unknown }).normalisation;
      assert.ok(Array.isArray(stored) && stored.length === 3, 'the checkpoint stores statistics per channel');
      for (const [k, c] of CONTRASTS.entries()) {
        const v = await readVolume(contrastFile(c));
        const [min, max] = range(v.data);
        assert.deepEqual(model.meta.normalisation[k], { kind: 'minmax', min, max }, `${c}: its own statistics`);
      }

      // predict's inputs: the case folder (files by the model's channel names) or NAME_0000… files.
      const [input] = predictionInputs(dir, join(root, 'pred.nii.gz'), model.meta);
      assert.deepEqual(
        input.files,
        FILES.map((f) => join(dir, f)),
      );
      const nn = join(root, 'nnunet');
      mkdirSync(nn);
      CONTRASTS.forEach((c, k) => symlinkSync(contrastFile(c), join(nn, `cord_000${k}.nii.gz`)));
      assert.deepEqual(predictionInputs(nn, join(root, 'out'), model.meta), [
        {
          name: join(nn, 'cord'),
          files: [0, 1, 2].map((k) => join(nn, `cord_000${k}.nii.gz`)),
          out: join(root, 'out', 'cord.nii.gz'),
        },
      ]);

      const scan = await loadCaseImage({ id: 'sub-unf01', image: input.files[0], channelFiles: input.files });
      assert.equal(channelCount(scan), 3);
      const pred = predictVolume(model.network, model.meta, scan);
      assert.deepEqual(pred.labels.size, [131, 141, 16]);
      assert.ok(sameGrid(pred.labels, scan));
      assert.ok(pred.labels.data.every((l) => l === 0 || l === 1));
      // The channels as a list of volumes give the same prediction.
      const list: Volume[] = [];
      for (const f of input.files) list.push(await readVolume(f));
      assert.deepEqual(predictVolume(model.network, model.meta, list).labels.data, pred.labels.data);
      // One contrast alone is refused, clearly.
      assert.throws(
        () => predictVolume(model.network, model.meta, list[0]),
        (e: unknown) =>
          e instanceof ComboSegError &&
          /the scan has 1 channel; the model takes 3 channels \(T1w.nii.gz, T2w.nii.gz, T2star.nii.gz\)/.test(
            e.message,
          ),
      );

      // The command line: the case folder in, a label map on the case's grid out (in the API's fp32:
      // the CLI's default precision is this CPU's, and bf16 may move a voxel or two at the threshold).
      const out = join(root, 'pred.nii.gz');
      const args = ['predict', '--model', join(run, 'best'), '-i', dir, '-o', out, '--precision', 'fp32'];
      execFileSync(process.execPath, [bin, ...args], { stdio: 'pipe' });
      const written = await readLabels(out);
      assert.ok(sameGrid(written, scan));
      assert.deepEqual(written.data, pred.labels.data);
    } finally {
      model.network.dispose();
    }

    // Server jobs: a case of the run's data set takes its three files; one uploaded 3-D file is refused.
    const s = await serve({ root, port: 0 });
    try {
      const post = async (path: string, body: RequestInit['body']) => {
        const r = await fetch(s.url + path, { method: 'POST', body, headers: { 'x-comboseg': '1' } });
        return (await r.json()) as { id: string };
      };
      const wait = async (id: string) => {
        for (;;) {
          const j = (await (await fetch(`${s.url}/api/jobs/${id}`)).json()) as { state: string; error: string | null };
          if (j.state === 'done' || j.state === 'error') return j;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const job = await wait(
        (await post('/api/jobs/case', JSON.stringify({ run: 'runs/cord', case: 'sub-unf01' }))).id,
      );
      assert.equal(job.state, 'done', String(job.error));
      const upload = await wait(
        (await post('/api/jobs/upload?model=runs/cord&filename=t1.nii.gz', readFileSync(contrastFile('T1w')))).id,
      );
      assert.equal(upload.state, 'error');
      assert.match(
        String(upload.error),
        /^'t1.nii.gz' is one 3-D image; the model takes 3 channels \(T1w.nii.gz, T2w.nii.gz, T2star.nii.gz\): upload one 4-D NIfTI/,
      );
    } finally {
      await s.close();
    }
  },
);

test('a checkpoint from before channels (one normalisation object) still loads and predicts', () => {
  const path = join(root, 'old.safetensors');
  const net = create('proposed', { channels: [4, 8], inChannels: 1, outChannels: 1, seed: 3 });
  const old = {
    network: 'proposed',
    options: toJson(net.options),
    labels: { values: [1], names: ['organ'] },
    normalisation: { kind: 'zscore', mean: 10, std: 2 },
    perPatchMinMax: true,
    patchSize: [16, 16, 16],
    inference: { mode: 'whole' },
    epoch: 3,
    validationDice: 0.5,
  };
  const weights = Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [`model.${k}`, t]));
  saveSafetensors(path, weights, { model: old });
  net.dispose();
  const model = loadModel(path);
  try {
    assert.deepEqual(model.meta.normalisation, [{ kind: 'zscore', mean: 10, std: 2 }]);
    assert.equal(model.meta.channels, undefined);
    const scan: Volume = {
      size: [16, 16, 8],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data: Float32Array.from({ length: 16 * 16 * 8 }, (_, i) => (i % 16) + 4),
      pixelType: 'float32',
    };
    const pred = predictVolume(model.network, model.meta, scan);
    assert.ok(sameGrid(pred.labels, scan));
  } finally {
    model.network.dispose();
  }
  // Statistics for 2 channels with a 1-channel network: damaged metadata.
  saveSafetensors(path, {}, { model: { ...old, normalisation: [old.normalisation, old.normalisation] } });
  assert.throws(
    () => loadModel(path),
    /damaged model metadata: .*2 set\(s\) of statistics for a network of 1 input channel/,
  );
});
