// `predict --runtime onnx`: an exported model on onnxruntime-node segments a real PET scan to the
// labels libtorch gives (same windows, spacing, normalisation); wrong combinations and files that
// are not comboseg exports get one clear line each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVolume } from '../../src/data/io.js';
import { create } from '../../src/networks/registry.js';
import { saveModel } from '../../src/inference/model.js';
import { SHARED_DATA, skipWithoutData } from '../data/shared-data.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

/** A small model trained on nothing, with a spacing and per-window min–max, saved and exported. */
function exportedModel(dir: string): { checkpoint: string; onnx: string } {
  const net = create('proposed', { channels: [4, 8, 16], inChannels: 1, outChannels: 1, seed: 7, outputBias: 0 });
  net.eval();
  const checkpoint = join(dir, 'model.safetensors');
  saveModel(checkpoint, net, {
    network: 'proposed',
    options: net.options,
    labels: { values: [1], names: ['tumour'] },
    normalisation: { kind: 'minmax', min: 0, max: 10 },
    perPatchMinMax: true,
    spacing: [4, 4, 3.27],
    patchSize: [16, 16, 16],
    inference: { mode: 'window', stride: 8 },
    epoch: 0,
    validationDice: null,
  });
  net.dispose();
  const onnx = join(dir, 'model.onnx');
  const r = run(['export', '--model', checkpoint, '--onnx', onnx]);
  assert.equal(r.status, 0, r.stderr);
  return { checkpoint, onnx };
}

test('predict --runtime onnx gives libtorch’s labels on a real PET scan', { skip: skipWithoutData }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-predict-onnx-'));
  const { checkpoint, onnx } = exportedModel(dir);
  const scan = join(SHARED_DATA, 'pet-sts/STS_005/PET_image.nii.gz');
  const [a, b] = [join(dir, 'torch.nii.gz'), join(dir, 'onnx.nii.gz')];
  const torch = run(['predict', '--model', checkpoint, '-i', scan, '-o', a, '--precision', 'fp32']);
  assert.equal(torch.status, 0, torch.stderr);
  const ort = run(['predict', '--model', onnx, '-i', scan, '-o', b]); // .onnx: the onnx runtime by default
  assert.equal(ort.status, 0, ort.stderr);
  const [ref, got, image] = [await readVolume(a), await readVolume(b), await readVolume(scan)];
  assert.deepEqual(got.size, image.size, "the scan's grid");
  let both = 0,
    sum = 0,
    differ = 0;
  for (let i = 0; i < ref.data.length; i++) {
    both += ref.data[i] && got.data[i] ? 1 : 0;
    sum += (ref.data[i] ? 1 : 0) + (got.data[i] ? 1 : 0);
    differ += ref.data[i] !== got.data[i] ? 1 : 0;
  }
  assert.ok(sum > 100, `a non-trivial segmentation (${sum / 2} voxels)`);
  const dice = (2 * both) / sum;
  t.diagnostic(`${differ} of ${ref.data.length} voxels differ; Dice ${dice.toFixed(4)}; ${sum / 2} voxels labelled`);
  assert.ok(differ === 0 || dice >= 0.99, `${differ} voxel(s) differ, Dice ${dice}`);
});

test(
  'predict --runtime onnx: wrong combinations and non-comboseg files, one clear line each',
  { skip: skipWithoutData },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'comboseg-predict-onnx-bad-'));
    const { checkpoint, onnx } = exportedModel(dir);
    const scan = join(SHARED_DATA, 'pet-sts/STS_005/PET_image.nii.gz');
    const out = join(dir, 'out.nii.gz');
    const fails = (args: string[], message: RegExp) => {
      const r = run(['predict', '-i', scan, '-o', out, ...args]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(existsSync(out), false, 'nothing written');
    };
    fails(
      ['--model', checkpoint, '--runtime', 'onnx'],
      /runs ONNX exports; export a checkpoint first: comboseg export/,
    );
    fails(['--model', onnx, '--runtime', 'libtorch'], /give --runtime onnx for an ONNX file/);
    fails(['--model', onnx, '--precision', 'bf16'], /--precision applies to the libtorch runtime/);
    fails(['--model', onnx, '--runtime', 'tensorrt'], /--runtime tensorrt: expected libtorch or onnx/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'not a model at all');
    fails(['--model', junk], /junk\.onnx: not an ONNX model/);
  },
);
