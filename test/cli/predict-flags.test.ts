// `comboseg predict` flags are checked by the inference schema; messages name the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { precisionFlag, settingsFromFlags } from '../../src/cli/predict.js';
import { ComboSegError } from '../../src/index.js';

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
