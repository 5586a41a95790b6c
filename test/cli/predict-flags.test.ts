// `comboseg predict` flags are checked by the inference schema; messages name the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { precisionFlag, predictCommand, settingsFromFlags } from '../../src/cli/predict.js';
import { ComboSegError } from '../../src/index.js';
import type { JsonValue } from '../../src/engine/safetensors.js';
import { readVolume, writeVolume } from '../../src/data/io.js';
import { create } from '../../src/networks/registry.js';
import { loadModel, saveModel } from '../../src/inference/model.js';
import { predictEnsemble } from '../../src/inference/ensemble.js';
import { toJson } from '../../src/util/json.js';
import { assertClose } from '../helpers.js';

test('predict flags: values the schema accepts, only what was given', () => {
  assert.deepEqual(settingsFromFlags({}), {});
  assert.deepEqual(settingsFromFlags({ stride: '10' }), { stride: [10, 10, 10] });
  assert.deepEqual(settingsFromFlags({ stride: '10x12x14', swBatch: '4' }), { stride: [10, 12, 14], swBatch: 4 });
  assert.deepEqual(settingsFromFlags({ tta: true, mode: 'whole', threshold: '0.3' }), {
    flipTta: true,
    mode: 'whole',
    threshold: 0.3,
  });
});

test('predict flags: a bad value names its flag (--sw-batch -5, abc; --stride 20,20; --threshold 1.5)', () => {
  const fails = (flags: Parameters<typeof settingsFromFlags>[0], message: string): void => {
    assert.throws(
      () => settingsFromFlags(flags),
      (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option' && e.message === message,
    );
  };
  fails({ swBatch: '-5' }, '--sw-batch must be an integer in [1, 1024], got -5');
  fails({ swBatch: 'abc' }, '--sw-batch must be an integer in [1, 1024], got "abc"');
  fails({ threshold: '1.5' }, '--threshold must be a number in (0, 1), got 1.5');
  fails({ mode: 'fast' }, "--mode must be one of 'auto', 'window', 'whole', got \"fast\"");
  fails(
    { stride: '20,20' },
    '--stride must be an integer in [1, 2048], or a list of 3 integers in [1, 2048], got [20,20]',
  );
});

test('predict --precision: auto when not given; a bad value names the flag and the allowed values', () => {
  assert.equal(precisionFlag(undefined), 'auto');
  assert.equal(precisionFlag('bf16'), 'bf16');
  const message = `--precision must be one of 'auto', 'fp32', 'bf16', got "half"`;
  assert.throws(
    () => precisionFlag('half'),
    (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-option' && e.message === message,
  );
  // From the command line: that message, no stack trace, exit status 2, before the model is read.
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const args = ['predict', '--model', 'no-such-run', '-i', 'in.nii.gz', '-o', 'out.nii.gz', '--precision', 'half'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `comboseg: ${message}\n`);
});

test('predict --largest-component: every organ (no value) or the organs named; an empty list names the flag', () => {
  assert.deepEqual(settingsFromFlags({ largestComponent: true }), { largestComponent: true });
  assert.deepEqual(settingsFromFlags({ largestComponent: 'liver, spleen' }), { largestComponent: ['liver', 'spleen'] });
  assert.throws(
    () => settingsFromFlags({ largestComponent: ',' }),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.message.startsWith('--largest-component must be true or false, or a list of at least 1 strings'),
  );
});

/** Two tiny models of the same organs and one of others, saved; a scan; all in a temporary folder. */
async function ensembleFixture(root: string) {
  const labels = { values: [1, 3], names: ['liver', 'spleen'] };
  const save = (name: string, seed: number, l = labels): string => {
    const net = create('proposed', { channels: [4, 8], inChannels: 1, outChannels: 2, seed, outputBias: 0.2 });
    const path = join(root, `${name}.safetensors`);
    saveModel(path, net, {
      network: 'proposed',
      options: toJson(net.options) as Record<string, JsonValue>,
      labels: l,
      normalisation: { kind: 'zscore', mean: 20, std: 10 },
      perPatchMinMax: seed === 2,
      patchSize: seed === 2 ? [8, 8, 8] : [16, 16, 8],
      inference: { mode: seed === 2 ? 'window' : 'whole' },
      epoch: 1,
      validationDice: null,
    });
    net.dispose();
    return path;
  };
  const scan = join(root, 'scan.nii.gz');
  await writeVolume(scan, {
    size: [16, 12, 8],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Float32Array.from({ length: 16 * 12 * 8 }, (_, i) => ((i * 7) % 41) + (i % 16 > 8 ? 10 : 0)),
    pixelType: 'float32',
  });
  const other = { values: [1, 2], names: ['liver', 'spleen'] };
  return { a: save('fold0', 1), b: save('fold1', 2), other: save('other', 3, other), scan };
}

test('predict with several --model: the ensemble’s labels and averaged probability maps', async () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-predict-ensemble-'));
  try {
    const f = await ensembleFixture(root);
    const out = (name: string) => join(root, 'out', `${name}.nii.gz`);
    const run = (models: string[], name: string, ...flags: string[]) =>
      predictCommand().parseAsync(
        [...models, '-i', f.scan, '-o', out(name), '--probabilities', '--precision', 'fp32', ...flags],
        {
          from: 'user',
        },
      );
    await run(['--model', f.a, '--model', f.b], 'repeated', '--largest-component');
    await run(['--model', `${f.a},${f.b}`], 'comma', '--largest-component', 'spleen,liver');
    const loaded = [loadModel(f.a), loadModel(f.b)];
    try {
      const members = loaded.map((m) => ({ net: m.network, meta: m.meta }));
      const expected = predictEnsemble(members, await readVolume(f.scan), { largestComponent: true });
      for (const name of ['repeated', 'comma']) {
        assert.deepEqual(Array.from((await readVolume(out(name))).data), Array.from(expected.labels.data), name);
        for (const [k, organ] of ['liver', 'spleen'].entries()) {
          const prob = await readVolume(join(root, 'out', `${name}_prob_${organ}.nii.gz`));
          assertClose(prob.data, expected.probabilities[k].data, 1e-6, `${name}: ${organ}`);
        }
      }
    } finally {
      loaded.forEach((m) => m.network.dispose());
    }
    // Models of other organs: refused naming both, before anything is written.
    await assert.rejects(run(['--model', f.a, '--model', f.other], 'mismatch'), (e: unknown) => {
      assert.ok(e instanceof ComboSegError && e.code === 'invalid-input');
      assert.match(
        e.message,
        /fold0\.safetensors segments 1:liver, 3:spleen; .*other\.safetensors segments 1:liver, 2:spleen/,
      );
      return true;
    });
    // An organ the models do not have: refused naming the known ones.
    await assert.rejects(
      run(['--model', f.a], 'unknown', '--largest-component', 'kidney'),
      /its organs are 'liver', 'spleen'/,
    );
    assert.ok(!existsSync(out('mismatch')) && !existsSync(out('unknown')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
