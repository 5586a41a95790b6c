// `predict -i FOLDER -o FOLDER`: one writer per output folder, and a marker that says whether the
// set is complete (a set cut short is not mistaken for a finished one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, training } from '../../src/index.js';
import { FolderLock } from '../../src/util/lock.js';
import { PREDICTIONS_FILE, predictCommand } from '../../src/cli/predict.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'comboseg-predict-folder-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 4, seed: 8, size: [24, 24, 32] });
await training.train({
  data: { msd: dataDir },
  split: { validation: 0.25, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo' },
  sampler: { kind: 'paper', patchSize: 16, perOrgan: 1, background: 1 },
  epochs: 1,
  patchesPerEpoch: 2,
  inference: { mode: 'whole' },
  out: join(root, 'run'),
});
const scans = join(root, 'scans');
mkdirSync(scans);
for (const f of readdirSync(join(dataDir, 'imagesTr')).slice(0, 2))
  copyFileSync(join(dataDir, 'imagesTr', f), join(scans, f));

test('a finished prediction folder is marked complete, listing every case; no lock or partial write left', () => {
  const out = join(root, 'pred');
  mkdirSync(join(out, '.comboseg-write-999999-abcdef'), { recursive: true }); // a predict killed mid-write
  execFileSync(process.execPath, [bin, 'predict', '--model', join(root, 'run'), '-i', scans, '-o', out], {
    stdio: 'pipe',
  });
  const marker = JSON.parse(readFileSync(join(out, PREDICTIONS_FILE), 'utf8'));
  assert.equal(marker.complete, true);
  assert.deepEqual(Object.keys(marker.cases).sort(), readdirSync(scans).sort());
  assert.ok(!existsSync(join(out, FolderLock.FILE)));
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith('.')),
    [],
  );
});

test('a second writer on a prediction folder is refused with the holder named', () => {
  const out = join(root, 'busy');
  mkdirSync(out);
  const lock = FolderLock.acquire(out, 'predict');
  try {
    const r = spawnSync(process.execPath, [bin, 'predict', '--model', join(root, 'run'), '-i', scans, '-o', out], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`busy is in use by pid ${process.pid} \\(predict`));
    assert.deepEqual(readdirSync(out), [FolderLock.FILE], 'nothing written');
  } finally {
    lock.release();
  }
});

test('predicting a folder into itself is refused before anything is written', () => {
  const r = spawnSync(process.execPath, [bin, 'predict', '--model', join(root, 'run'), '-i', scans, '-o', scans], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is the input folder: the label maps would overwrite the scans/);
  assert.ok(!existsSync(join(scans, PREDICTIONS_FILE)));
});

test('predict --precision fp32 and --precision bf16 both segment with the same model', async () => {
  const scan = join(scans, readdirSync(scans)[0]);
  const out = join(root, 'precision');
  const maps: data.Volume[] = [];
  const probabilities: data.Volume[] = [];
  for (const p of ['fp32', 'bf16']) {
    const file = join(out, `${p}.nii.gz`);
    const args = ['--model', join(root, 'run'), '-i', scan, '-o', file, '--precision', p, '--probabilities'];
    await predictCommand().parseAsync(args, { from: 'user' });
    maps.push(await data.readVolume(file));
    const prob = readdirSync(out).filter((f) => f.startsWith(`${p}_prob_`));
    assert.equal(prob.length, 5, `${p}: one probability map per organ`);
    probabilities.push(await data.readVolume(join(out, prob[0])));
  }
  const image = await data.readVolume(scan);
  const organs = new Set([0, 1, 2, 3, 4, 5]);
  for (const m of maps) {
    assert.deepEqual(m.size, image.size);
    assert.ok(
      [...new Set(m.data)].every((v) => organs.has(v)),
      'labels are background or organ values',
    );
  }
  const [fp32, bf16] = probabilities.map((v) => v.data);
  let diff = 0;
  for (let i = 0; i < fp32.length; i++) diff = Math.max(diff, Math.abs(fp32[i] - bf16[i]));
  assert.ok(diff > 0, 'bf16 is its own computation (not fp32 under another name)');
  assert.ok(diff < 0.1, `bf16 probabilities within 0.1 of fp32's (${diff})`);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
