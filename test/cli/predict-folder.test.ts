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
import { PREDICTIONS_FILE } from '../../src/cli/predict.js';

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

test.after(() => rmSync(root, { recursive: true, force: true }));
