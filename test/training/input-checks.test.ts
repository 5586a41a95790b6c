// Training refuses data it would silently misread: label values that labelNames does not name
// (unless told to train them as background), and a training set whose every mask is empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, training, liveTensors, ComboSegError } from '../../src/index.js';
import { checkTrainingLabels } from '../../src/data/labels.js';
import { withData } from '../../src/data/volume.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-input-checks-'));
const msd = join(root, 'pet');
await data.writeSyntheticDataset({ kind: 'pet', out: msd, cases: 4, seed: 5, size: [24, 24, 32] });

const labelSet = { values: [1, 2], names: ['brain', 'heart'] };

test('checkTrainingLabels: unnamed values listed with their cases; empty masks refused', () => {
  const cases = [
    { id: 'a', labels: [0, 1, 2, 7] },
    { id: 'b', labels: [0, 9, 9, 1] },
  ];
  assert.throws(
    () => checkTrainingLabels(cases, labelSet),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-input' &&
      e.message.startsWith('label value(s) 7 (in a); 9 (in b) are not among the named organs (1:brain, 2:heart)'),
  );
  checkTrainingLabels(cases, labelSet, { ignoreUnnamed: true });
  assert.throws(
    () => checkTrainingLabels([{ id: 'a', labels: [0, 0] }], labelSet),
    /every training label map is empty: no voxel of brain, heart in 1 case\(s\)/,
  );
});

const config = (dataSpec: Record<string, unknown>, out: string, extra: Record<string, unknown> = {}) => ({
  data: dataSpec,
  split: { validation: 0.25, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo' },
  sampler: { kind: 'paper', patchSize: 16, perOrgan: 1, background: 1 },
  epochs: 1,
  patchesPerEpoch: 2,
  inference: { mode: 'whole' },
  out: join(root, out),
  ...extra,
});

test('train: labels the data holds but labelNames omits are an error, or background when asked', async () => {
  const pairs = { images: join(msd, 'imagesTr'), labels: join(msd, 'labelsTr'), labelNames: { 1: 'brain' } };
  await assert.rejects(training.train(config(pairs, 'unnamed')), /are not among the named organs \(1:brain\)/);
  const r = await training.train(config(pairs, 'unnamed-ok', { ignoreUnnamedLabels: true }));
  assert.equal(r.records.length, 1);
  // With a softmax loss the unnamed values become background channel targets, not all-zero rows.
  const ce = await training.train(
    config(pairs, 'unnamed-ce', { ignoreUnnamedLabels: true, loss: { name: 'wce', options: {} } }),
  );
  assert.equal(ce.records.length, 1);
});

test('train: every training mask empty is an error, not a Dice-0 "best" model', async () => {
  const empty = join(root, 'empty');
  mkdirSync(join(empty, 'labels'), { recursive: true });
  for (const f of readdirSync(join(msd, 'labelsTr'))) {
    const l = await data.readLabels(join(msd, 'labelsTr', f));
    await data.writeVolume(join(empty, 'labels', f), withData(l, new Uint8Array(l.data.length), 'uint8'));
  }
  const spec = { images: join(msd, 'imagesTr'), labels: join(empty, 'labels'), labelNames: { 1: 'brain' } };
  await assert.rejects(training.train(config(spec, 'empty-run')), /every training label map is empty/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test('a run refused after its network was built frees it (in-process runs, e.g. experiments, go on)', async () => {
  const before = liveTensors();
  const bad = config({ msd }, 'bad-patch', { sampler: { kind: 'paper', patchSize: 15, perOrgan: 1, background: 1 } });
  await assert.rejects(training.train(bad), /patchSize \[15,15,15\] must be a multiple of 2/);
  assert.equal(liveTensors(), before, 'no tensor left alive by the failed setup');
});
