// One schema per option set: the same declaration checks a loss at construction, a training
// configuration, a checkpoint's metadata, and writes the docs. Expected texts are written out
// by hand from the schemas' bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ComboSegError, losses, networks, saveSafetensors, tensor, training } from '../../src/index.js';
import { describeSchema, didYouMean, optionRows, parseOptions, problemsOf } from '../../src/util/options.js';
import { loadModel } from '../../src/inference/model.js';

test('describeSchema says what is allowed, in words', () => {
  assert.equal(describeSchema(z.number().min(0).max(1)), 'a number in [0, 1]');
  assert.equal(describeSchema(z.number().min(0).lt(1).default(0.9)), 'a number in [0, 1)');
  assert.equal(describeSchema(z.number().int().min(1)), 'a positive integer');
  assert.equal(describeSchema(z.number().int().min(0)), 'an integer ≥ 0');
  assert.equal(describeSchema(z.number().gt(0)), 'a number > 0');
  assert.equal(describeSchema(z.enum(['a', 'b']).optional()), "one of 'a', 'b'");
  assert.equal(describeSchema(z.boolean()), 'true or false');
  assert.equal(describeSchema(z.array(z.number().int().min(1)).min(2)), 'a list of at least 2 positive integers');
});

test('didYouMean prefers a name that extends the given one, then the closest within two edits', () => {
  assert.equal(didYouMean('unet', ['proposed', 'unet3d', 'vnet']), " Did you mean 'unet3d'?");
  assert.equal(didYouMean('combi', ['combo', 'dice']), " Did you mean 'combo'?");
  assert.equal(didYouMean('xyz', ['combo', 'dice']), '');
});

test('parseOptions fills defaults, freezes, and names each bad option with what was given', () => {
  const schema = z.object({ a: z.number().min(0).max(1).default(0.5), mode: z.enum(['x', 'y']).default('x') }).strict();
  const o = parseOptions(schema, { a: 0.2 }, "thing 't'");
  assert.deepEqual(o, { a: 0.2, mode: 'x' });
  assert.ok(Object.isFrozen(o));
  assert.throws(
    () => parseOptions(schema, { a: 2, mode: 'z' }, "thing 't'"),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.path === 'a' &&
      e.message ===
        "thing 't': option 'a' must be a number in [0, 1], got 2; option 'mode' must be one of 'x', 'y', got \"z\"",
  );
  assert.throws(
    () => parseOptions(schema, { mdoe: 'x' }, 't'),
    /unknown option 'mdoe' \(options: a, mode\)\. Did you mean 'mode'\?/,
  );
  assert.throws(() => parseOptions(schema, [1], 't'), /t: options must be an object, got \[1\]/);
});

test('a loss, a network and an optimiser refuse a bad option the same way, naming it', () => {
  assert.throws(
    () => losses.create('combo', { beta: 1.5 }),
    /^ComboSegError: loss 'combo': option 'beta' must be a number in \[0, 1\], got 1.5$/,
  );
  assert.throws(() => losses.create('wce', { weights: [1, -1] }), /option 'weights.1' must be a number ≥ 0, got -1/);
  assert.throws(
    () => networks.create('vnet', { channels: [8, 16], encoderConvs: [1] }),
    /need 2 encoderConvs and 1 decoderConvs/,
  );
  assert.throws(
    () => new training.Sgd([], { momentum: 1 }),
    /optimiser 'sgd': option 'momentum' must be a number in \[0, 1\), got 1/,
  );
});

test('a training configuration checks nested options with the same schemas, path first', () => {
  const base = { data: { msd: 'd' }, network: { name: 'proposed' }, loss: { name: 'combo' }, out: 'r' };
  const fails = (cfg: unknown, line: string): void => {
    assert.throws(
      () => training.parseConfig(cfg),
      (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-config' && e.message.split('\n').includes(line),
    );
  };
  fails(
    { ...base, loss: { name: 'combo', options: { beta: 2 } } },
    '  loss.options.beta: must be a number in [0, 1], got 2',
  );
  fails(
    { ...base, loss: { name: 'combi' } },
    `  loss.name: must be one of ${losses.LOSS_NAMES.map((n) => `'${n}'`).join(', ')}, ` +
      `got "combi". Did you mean 'combo'?`,
  );
  fails(
    { ...base, network: { name: 'proposed', options: { upsampling: 'cubic' } } },
    `  network.options.upsampling: must be one of 'nearest', 'trilinear', got "cubic"`,
  );
  fails(
    { ...base, network: { name: 'proposed', options: { outChannels: 3 } } },
    '  network.options.outChannels: outChannels is set from the data and the run seed, not here',
  );
  fails(
    { ...base, optimizer: { name: 'adam', rho: 0.5 } },
    "  optimizer: unknown field 'rho' in 'optimizer' (fields: lr, beta1, beta2, eps, name)",
  );
  fails({ ...base, inference: { swBatch: 0 } }, '  inference.swBatch: must be an integer in [1, 1024], got 0');
  fails(
    { ...base, epoch: 3 },
    `  (top level): unknown field 'epoch' ` +
      `(fields: ${Object.keys(training.TrainConfigSchema.shape).join(', ')}). Did you mean 'epochs'?`,
  );
  // What a configuration keeps is what the user wrote; defaults apply when the loss is built.
  const cfg = training.parseConfig({ ...base, loss: { name: 'combo', options: { beta: 0.4 } } });
  assert.deepEqual(cfg.loss.options, { beta: 0.4 });
  assert.deepEqual(cfg.optimizer, { name: 'adadelta', lr: 1, rho: 0.95, eps: 1e-8 });
});

test('optionRows documents every option with its default', () => {
  const rows = optionRows(losses.ComboOptionsSchema);
  assert.deepEqual(
    rows.map((r) => r.name),
    ['alpha', 'beta', 'smooth', 'dice', 'variant', 'fromProbabilities'],
  );
  assert.deepEqual(rows[1], {
    name: 'beta',
    allowed: 'a number in [0, 1]',
    default: '0.5',
    description: 'weight of false negatives against false positives: < 0.5 penalises FP more',
  });
});

test('checkpoint metadata is validated when read, never cast', () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-meta-'));
  try {
    const path = join(dir, 'bad.safetensors');
    const w = tensor([1], [1]);
    const meta = {
      network: 'proposed',
      options: {},
      labels: { values: [1], names: ['organ'] },
      normalisation: { kind: 'minmax', min: 0, max: 1 },
      perPatchMinMax: true,
      patchSize: [16, 16, 'x'],
      inference: {},
      epoch: 1,
      validationDice: null,
    };
    saveSafetensors(path, { 'model.x': w }, { model: meta });
    w.dispose();
    assert.throws(
      () => loadModel(path),
      (e: unknown) =>
        e instanceof ComboSegError &&
        e.code === 'bad-file' &&
        e.message ===
          `${path}: damaged model metadata: field 'model.patchSize.2' must be an integer in [1, 2048], got "x"`,
    );
    // A checkpoint's patch size of 1e5 was an engine stack trace; now it is out of range, by name.
    saveSafetensors(path, {}, { model: { ...meta, patchSize: [1e5, 16, 16] } });
    assert.throws(
      () => loadModel(path),
      (e: unknown) =>
        e instanceof ComboSegError &&
        e.message ===
          `${path}: damaged model metadata: field 'model.patchSize.0' must be an integer in [1, 2048], got 100000`,
    );
    saveSafetensors(path, {}, { model: { ...meta, patchSize: [16, 16, 16], network: 'unet' } });
    assert.throws(() => loadModel(path), /unknown network 'unet'\. Did you mean 'unet3d'\?/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('problemsOf finds the branch of a union to describe a nested field', () => {
  const schema = z.object({ w: z.union([z.array(z.number().min(0)), z.enum(['auto'])]) }).strict();
  assert.deepEqual(
    problemsOf(schema, { w: [1, -2] }).map((p) => [p.path, p.problem]),
    [['w.1', 'must be a number ≥ 0, got -2']],
  );
});
