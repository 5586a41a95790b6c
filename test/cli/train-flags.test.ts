// `comboseg train` flags build (or override) a configuration, validated like a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkTrainConfig, configFromFlags } from '../../src/cli/train.js';
import { training } from '../../src/index.js';

test('flags alone make a valid configuration; flags override a config file', () => {
  const c = configFromFlags(
    {},
    {
      msd: 'data/pet',
      network: 'proposed',
      loss: 'combo',
      beta: 0.4,
      patchSize: 32,
      epochs: 3,
      optimizer: 'adam',
      lr: 0.01,
      folds: 4,
      fold: 1,
      out: 'runs/x',
    },
  );
  const parsed = training.parseConfig(c);
  assert.deepEqual(parsed.data, { msd: 'data/pet' });
  assert.deepEqual(parsed.loss, { name: 'combo', options: { beta: 0.4 } });
  assert.deepEqual(parsed.sampler.patchSize, [32, 32, 32]);
  assert.deepEqual(parsed.optimizer, { name: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  assert.deepEqual(parsed.folds, { k: 4, fold: 1, seed: 0, heldOut: 'validation' });
  const base = {
    data: { msd: 'a' },
    network: { name: 'unet3d', options: { channels: [8, 16] } },
    loss: { name: 'combo', options: {} },
    epochs: 9,
    out: 'r',
  };
  const over = training.parseConfig(configFromFlags(base, { epochs: 2, alpha: 0.3 }));
  assert.equal(over.epochs, 2);
  assert.deepEqual(over.network, base.network);
  assert.deepEqual(over.loss.options, { alpha: 0.3 });
  assert.throws(
    () => training.parseConfig(configFromFlags({}, { msd: 'x' })),
    /network: missing; must be an object[\s\S]*loss: missing; must be an object/,
  );
  assert.throws(() => configFromFlags({}, { images: 'i' }), /--images needs --labels and --label-names/);
  assert.throws(() => configFromFlags({}, { networkOptions: '[1]' }), /--network-options must be a JSON object/);
});

test('a bad flag value is named by its flag, a bad file value by its field (the schema decides both)', () => {
  const flags = { msd: 'x', network: 'proposed', loss: 'combo', epochs: 0, beta: 2, lr: -1, out: 'r' };
  const base = { sampler: { patchSize: 0 } };
  assert.throws(
    () => checkTrainConfig(configFromFlags(base, flags), flags, 'my.json'),
    (e: unknown) =>
      (e as Error).message ===
      [
        'my.json: invalid training configuration:',
        '  --beta: must be a number in [0, 1], got 2',
        '  sampler.patchSize: must be an integer in [1, 2048], or a list of 3 integers in [1, 2048], got 0',
        '  --epochs: must be a positive integer, got 0',
        '  --lr: must be a number > 0, got -1',
      ].join('\n'),
  );
});

test("--precision sets the configuration's precision; a bad one names the flag and the allowed values", () => {
  const flags = { msd: 'x', network: 'proposed', loss: 'dice', out: 'r' };
  assert.equal(training.parseConfig(configFromFlags({}, { ...flags, precision: 'bf16' })).precision, 'bf16');
  assert.equal(
    training.parseConfig(configFromFlags({ precision: 'bf16' }, { ...flags, precision: 'fp32' })).precision,
    'fp32',
  );
  assert.equal(training.parseConfig(configFromFlags({}, flags)).precision, 'auto');
  const bad = { ...flags, precision: 'fp16' };
  const message = [
    'flags: invalid training configuration:',
    `  --precision: must be one of 'auto', 'fp32', 'bf16', got "fp16". Did you mean 'fp32'?`,
  ].join('\n');
  assert.throws(
    () => checkTrainConfig(configFromFlags({}, bad), bad, 'flags'),
    (e: unknown) => (e as Error).message === message,
  );
  // From the command line: that message, no stack trace, exit status 2, before anything is trained.
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const args = ['train', '--msd', 'x', '--network', 'proposed', '--loss', 'dice', '--out', 'r', '--precision', 'fp16'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `comboseg: ${message}\n`);
});

test('placement flags set config.distributed; a node rank past the hosts, or hosts without a master, are named', () => {
  const flags = { msd: 'x', network: 'proposed', loss: 'dice', out: 'r' };
  const placed = {
    ...flags,
    nproc: 2,
    nnodes: 2,
    nodeRank: 1,
    master: '10.0.0.1:29500',
    syncBn: true,
    distTimeout: 30,
  };
  assert.deepEqual(training.parseConfig(configFromFlags({}, placed)).distributed, {
    nproc: 2,
    nnodes: 2,
    nodeRank: 1,
    master: '10.0.0.1:29500',
    syncBatchNorm: true,
    timeoutSeconds: 30,
  });
  const defaults = training.parseConfig(configFromFlags({}, flags)).distributed;
  assert.deepEqual(defaults, { nproc: 1, nnodes: 1, nodeRank: 0, syncBatchNorm: false, timeoutSeconds: 300 });
  const bad = { ...flags, nnodes: 2, nodeRank: 2 };
  assert.throws(
    () => checkTrainConfig(configFromFlags({}, bad), bad, 'flags'),
    (e: unknown) =>
      (e as Error).message ===
      [
        'flags: invalid training configuration:',
        '  --node-rank: must be below nnodes (2)',
        // No --master given: the field is named (a flag names only what it set).
        '  distributed.master: is needed when nnodes > 1: the address of node 0, HOST:PORT',
      ].join('\n'),
  );
  const badMaster = { ...flags, master: '10.0.0.1' };
  assert.throws(
    () => checkTrainConfig(configFromFlags({}, badMaster), badMaster, 'flags'),
    /--master: must be HOST:PORT/,
  );
});

test('--resume takes the placement flags (where the run goes on), and no other', () => {
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'train', '--resume', 'nowhere', '--lr', '1'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /give no other option but where it runs \(--nproc, --nnodes/);
  const placed = spawnSync(process.execPath, [bin, 'train', '--resume', 'nowhere', '--nproc', '2'], {
    encoding: 'utf8',
  });
  assert.notEqual(placed.status, 0);
  assert.match(placed.stderr, /nowhere/); // gets as far as reading the run: the flag itself was accepted
  assert.doesNotMatch(placed.stderr, /no other option/);
});
