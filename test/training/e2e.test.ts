// End to end on a tiny synthetic set: train, stop and resume, kill -9 and
// resume (same final weights as an uninterrupted run), predict, evaluate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, training, inference, loadSafetensors, dispose, ComboSegError } from '../../src/index.js';
import { checkpointWeights } from '../helpers.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'comboseg-e2e-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 6, seed: 3, size: [32, 32, 48] });

const config = (out: string, extra: Record<string, unknown> = {}) => ({
  data: { msd: dataDir },
  split: { validation: 0.2, test: 0.2, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo', options: { beta: 0.4 } },
  sampler: { kind: 'paper', patchSize: [16, 16, 16], perOrgan: 2, background: 1 },
  batchSize: 2,
  epochs: 3,
  patchesPerEpoch: 12,
  optimizer: { name: 'adam', lr: 0.003 },
  inference: { mode: 'window', stride: 8 },
  seed: 5,
  out,
  ...extra,
});

const weights = checkpointWeights;

test('train writes a run directory: config, split, metrics.jsonl, best and last checkpoints', async () => {
  const out = join(root, 'run-a');
  const r = await training.train(config(out));
  assert.equal(r.records.length, 3);
  for (const f of ['config.json', 'run.json', 'split.json', 'metrics.jsonl', 'best.safetensors', 'last.safetensors'])
    assert.ok(existsSync(join(out, f)), f);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.epoch),
    [1, 2, 3],
  );
  assert.ok(lines.every((l) => typeof l.trainLoss === 'number' && l.validation && typeof l.meanDice === 'number'));
  const best = lines.reduce((a, b) => (b.meanDice > a.meanDice ? b : a));
  assert.equal(
    inference.loadModel(join(out, 'best')).meta.epoch,
    best.epoch,
    'best.safetensors holds the epoch with the best validation Dice',
  );
  assert.ok(lines[2].trainLoss < lines[0].trainLoss, 'training loss falls');
  await assert.rejects(
    training.train(config(out)),
    (e: unknown) =>
      e instanceof ComboSegError && e.code === 'conflict' && /already holds a run; use --resume/.test(e.message),
  );
});

test('a stopped run resumes mid-epoch to exactly the weights of an uninterrupted run', async () => {
  const out = join(root, 'run-b');
  const signal = { stop: false };
  let steps = 0;
  const first = await training.train(config(out), {
    signal,
    events: {
      onStep: () => {
        if (++steps === 8) signal.stop = true;
      },
    },
  });
  assert.equal(first.stopped, true);
  const resumed = await training.train(config(out), { resume: true });
  assert.equal(resumed.stopped, false);
  assert.deepEqual(weights(out), weights(join(root, 'run-a')));
  // The epochs finished before the stop keep their records.
  assert.deepEqual(
    resumed.records.map((r) => r.epoch),
    [1, 2, 3],
  );
  assert.deepEqual(
    training.readEpochRecords(out).map((r) => r.epoch),
    [1, 2, 3],
  );
});

test('kill -9 during training loses at most the epoch in progress; resume reaches the same weights', async () => {
  const out = join(root, 'run-c');
  const cfgPath = join(root, 'c.json');
  writeFileSync(cfgPath, JSON.stringify(config(out)));
  const child = spawn(process.execPath, [bin, 'train', '--config', cfgPath], { stdio: 'ignore', detached: true });
  // Wait for the first epoch's checkpoint, then kill the whole process group hard.
  const t0 = Date.now();
  while (!(
    existsSync(join(out, 'metrics.jsonl')) &&
    readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length >= 1
  )) {
    if (Date.now() - t0 > 120_000) throw new Error('training did not reach epoch 1');
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(-child.pid!, 'SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // A kill can land inside an atomic write (metrics.jsonl is written before last.safetensors): what it
  // leaves is only a write's temporary file, never a half-written checkpoint, and the resume removes it.
  const left = readdirSync(out).filter((f) => f.startsWith('.'));
  assert.ok(
    left.every((f) => f.endsWith('.tmp') || f.startsWith('.comboseg-write-')),
    `only temporary writes left by the kill: ${left.join(', ')}`,
  );
  execFileSync(process.execPath, [bin, 'train', '--resume', out], { stdio: 'ignore' });
  assert.deepEqual(weights(out), weights(join(root, 'run-a')));
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith('.')),
    [],
    'the resume removed them',
  );
});

test('Ctrl-C stops the command cleanly after saving; --resume finishes with the same weights', async () => {
  const out = join(root, 'run-d');
  const cfgPath = join(root, 'd.json');
  writeFileSync(cfgPath, JSON.stringify(config(out, { epochs: 8 })));
  const child = spawn(process.execPath, [bin, 'train', '--config', cfgPath], { stdio: 'ignore', detached: true });
  const t0 = Date.now();
  while (!existsSync(join(out, 'metrics.jsonl'))) {
    if (Date.now() - t0 > 120_000) throw new Error('training did not reach epoch 1');
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(-child.pid!, 'SIGINT'); // the terminal sends Ctrl-C to the whole process group
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 130, 'exit status 130 after a clean stop');
  const state = loadSafetensors(join(out, 'last.safetensors'));
  const saved = state.metadata.training as { epoch: number; index: number };
  dispose(state.tensors);
  assert.ok(saved.epoch >= 1, `saved at epoch ${saved.epoch}, patch ${saved.index}`);
  execFileSync(process.execPath, [bin, 'train', '--resume', out], { stdio: 'ignore' });
  const reference = join(root, 'run-e');
  await training.train(config(reference, { epochs: 8 }));
  assert.deepEqual(weights(out), weights(reference));
});

test('predict and evaluate the held-out cases from the command line', () => {
  const out = join(root, 'run-a');
  const split = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8'));
  const id = split.test[0];
  const pred = join(root, 'pred.nii.gz');
  execFileSync(
    process.execPath,
    [
      bin,
      'predict',
      '--model',
      join(out, 'best'),
      '-i',
      join(dataDir, 'imagesTr', `${id}.nii.gz`),
      '-o',
      pred,
      '--probabilities',
    ],
    { stdio: 'pipe' },
  );
  assert.ok(existsSync(pred) && existsSync(join(root, 'pred_prob_brain.nii.gz')));
  const json = JSON.parse(
    execFileSync(
      process.execPath,
      [
        bin,
        'evaluate',
        '--pred',
        pred,
        '--truth',
        join(dataDir, 'labelsTr', `${id}.nii.gz`),
        '--labels',
        '1:brain,2:heart,3:left kidney,4:right kidney,5:bladder',
        '--json',
      ],
      { encoding: 'utf8' },
    ),
  );
  assert.deepEqual(Object.keys(json.cases[0].organs), ['brain', 'heart', 'left kidney', 'right kidney', 'bladder']);
  assert.ok(typeof json.summary.overall.dice.mean === 'number');
});

test('configuration errors name the offending field', async () => {
  await assert.rejects(
    training.train({ ...config(join(root, 'x')), epochs: 0 }),
    (e: unknown) => e instanceof ComboSegError && /epochs: must be a positive integer, got 0/.test(e.message),
  );
  await assert.rejects(training.train({ ...config(join(root, 'x')), optimiser: {} }), /unknown field 'optimiser'/);
  await assert.rejects(
    training.train({ ...config(join(root, 'x')), loss: { name: 'combo', options: { beta: 2 } } }),
    /loss\.options\.beta: must be a number in \[0, 1\], got 2/,
  );
  await assert.rejects(
    training.train({ ...config(join(root, 'y')) }, { resume: true }),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'not-found' &&
      /nothing to resume \(no config\.json, no last\.safetensors\)/.test(e.message) &&
      !existsSync(join(root, 'y')),
  );
  await assert.rejects(
    training.train({ ...config(join(root, 'x')), sampler: { patchSize: 15 } }),
    /patchSize \[15,15,15\] must be a multiple of 2/,
  );
});
