// The run directory's files: each written and read back; damaged ones refused with the file (and line) named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { training, loadSafetensors, saveSafetensors, ComboSegError } from '../../src/index.js';

const { RunDir } = training;
const fresh = () => new RunDir(join(mkdtempSync(join(tmpdir(), 'comboseg-rundir-')), 'run'));

const record = (epoch: number, meanDice: number | null): training.EpochRecord => ({
  epoch,
  trainLoss: 0.5 / epoch,
  patches: 12,
  seconds: 1.25,
  validation: meanDice === null ? null : { liver: { dice: meanDice, hd95: null } },
  meanDice,
  best: epoch === 1,
});

const isBadFile = (pattern: RegExp) => (e: unknown) =>
  e instanceof ComboSegError && e.code === 'bad-file' && pattern.test(e.message);

test('config, run.json, split and metrics.jsonl round-trip through the one owner of their names', () => {
  const run = fresh();
  assert.equal(run.hasConfig(), false);
  assert.equal(run.isRun(), false);
  run.create();
  const cfg = training.parseConfig({
    data: { msd: 'data/x' },
    network: { name: 'proposed' },
    loss: { name: 'combo', options: { beta: 0.4 } },
    out: run.path,
  });
  run.writeConfig(cfg);
  assert.deepEqual(run.readConfig(), cfg);
  assert.deepEqual(training.readRunConfig(run.path), cfg);
  const written: unknown = JSON.parse(readFileSync(join(run.path, 'config.json'), 'utf8'));
  assert.deepEqual(written, cfg, 'config.json is the resolved config');

  run.writeInfo();
  const info = run.readInfo();
  assert.equal(info.node, process.version);
  assert.ok(typeof info.codeVersion === 'string' && !Number.isNaN(Date.parse(info.started)));

  const split = { train: ['a', 'b'], validation: ['c'], test: [] };
  run.writeSplit(split);
  assert.deepEqual(run.readSplit(), split);
  assert.equal(run.isRun(), true, 'a run: config and split written');

  assert.deepEqual(run.readEpochRecords(), [], 'no records before the first epoch');
  const records = [record(1, 0.5), record(2, null)];
  run.writeEpochRecords(records);
  assert.deepEqual(run.readEpochRecords(), records);
  assert.deepEqual(training.readEpochRecords(run.path), records);
  assert.equal(readFileSync(run.metricsPath, 'utf8').split('\n').length, 3, 'one line per epoch, newline-terminated');
  assert.ok(run.modified() instanceof Date);
  assert.deepEqual(
    readdirSync(run.path).sort(),
    ['config.json', 'metrics.jsonl', 'run.json', 'split.json'],
    'every file under its name, no temporary files left',
  );
});

test('checkpoint paths: RUN_DIR/best resolves to best.safetensors; the training state round-trips', () => {
  const run = fresh();
  run.create();
  assert.equal(run.bestPath, join(run.path, 'best.safetensors'));
  assert.equal(run.lastPath, join(run.path, 'last.safetensors'));
  assert.throws(() => training.resolveModelPath(run.path), /no model there/);
  saveSafetensors(run.bestPath, {}, {});
  assert.equal(run.hasBest(), true);
  assert.equal(training.resolveModelPath(run.path), run.bestPath);
  assert.equal(training.resolveModelPath(join(run.path, 'best')), run.bestPath);

  const cfg = training.parseConfig({
    data: { msd: 'd' },
    network: { name: 'proposed' },
    loss: { name: 'dice' },
    out: 'o',
  });
  for (const best of [null, { dice: 0.75, epoch: 3 }]) {
    const state = { epoch: 4, index: 6, optimizerSteps: 27, best };
    saveSafetensors(run.lastPath, {}, run.lastMetadata(state, cfg));
    const loaded = loadSafetensors(run.lastPath);
    assert.deepEqual(run.readTrainingState(loaded.metadata), state);
    assert.deepEqual(loaded.metadata.config, JSON.parse(JSON.stringify(cfg)), 'the configuration travels with last');
  }
});

test('a damaged metrics.jsonl line is named by its line number', () => {
  const run = fresh();
  run.create();
  writeFileSync(run.metricsPath, `${JSON.stringify(record(1, 0.5))}\n{oops\n`);
  assert.throws(() => run.readEpochRecords(), isBadFile(/metrics\.jsonl:2: not a JSON record/));
  // Lines that do not parse are named before lines of the wrong shape (a half-written line is the likely damage).
  writeFileSync(run.metricsPath, '{"epoch": 1}\n{oops\n');
  assert.throws(() => run.readEpochRecords(), isBadFile(/metrics\.jsonl:2: not a JSON record/));
  writeFileSync(run.metricsPath, `${JSON.stringify(record(1, 0.5))}\n{"epoch": 2}\n`);
  assert.throws(() => run.readEpochRecords(), isBadFile(/metrics\.jsonl:2: not an epoch record: "trainLoss"/));
  writeFileSync(run.metricsPath, `${JSON.stringify({ ...record(1, 0.5), validation: { liver: { dice: 'high' } } })}\n`);
  assert.throws(() => run.readEpochRecords(), isBadFile(/metrics\.jsonl:1: not an epoch record: "validation"/));
});

test('a bad training state in last.safetensors is refused, naming the file', () => {
  const run = fresh();
  run.create();
  const bad: Record<string, unknown>[] = [
    {},
    { training: 'epoch 3' },
    { training: { epoch: -1, index: 0, optimizerSteps: 0, best: null } },
    { training: { epoch: 1, index: 0.5, optimizerSteps: 0, best: null } },
    { training: { epoch: 1, index: 0, best: null } },
    { training: { epoch: 1, index: 0, optimizerSteps: 2, best: { dice: '0.5', epoch: 1 } } },
    { training: { epoch: 1, index: 0, optimizerSteps: 2 } },
  ];
  for (const metadata of bad) {
    saveSafetensors(run.lastPath, {}, JSON.parse(JSON.stringify(metadata)));
    const loaded = loadSafetensors(run.lastPath);
    assert.throws(
      () => run.readTrainingState(loaded.metadata),
      isBadFile(/last\.safetensors: its training state .*; the run cannot resume from it/),
      JSON.stringify(metadata),
    );
  }
});

test('missing and damaged JSON files are named, with a code', () => {
  const run = fresh();
  assert.throws(
    () => training.readRunConfig(run.path),
    (e: unknown) =>
      e instanceof ComboSegError && e.code === 'not-found' && /not a run directory \(no config\.json\)/.test(e.message),
  );
  run.create();
  writeFileSync(run.configPath, '{"data": ');
  assert.throws(() => run.readConfig(), isBadFile(/config\.json: not JSON/));
  writeFileSync(run.splitPath, '{"train": ["a"], "validation": [], "test": [1]}');
  assert.throws(() => run.readSplit(), isBadFile(/split\.json: expected/));
  writeFileSync(run.infoPath, '{"codeVersion": 3}');
  assert.throws(() => run.readInfo(), isBadFile(/run\.json: expected/));
});
