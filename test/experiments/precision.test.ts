// The `precision` training setting in experiments: a configuration that does not set it (or sets the
// default 'auto') hashes exactly as before the setting existed, so existing experiment folders keep
// their cell ids; any other value is part of the hash; `--precision` sets it for every cell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ComboSegError, experiments, training } from '../../src/index.js';
import { configHash, resolvedConfig, withBasePrecision } from '../../src/experiments/grid.js';

const echoLv = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../experiments/echo-lv.json', import.meta.url)), 'utf8'),
) as experiments.ExperimentConfig;

// Computed with the code as it was before `precision` existed (experiments/echo-lv.json as shipped).
const ECHO_LV_IDS = [
  'proposed-combo-beta=0.7-seed0__f874fb95',
  'proposed-dice-seed0__ea04a06b',
  'proposed-bce-seed0__cf7bc3a8',
  'proposed-ce-seed0__67173d01',
  'vnet-combo-beta=0.7-seed0__bb9dfba7',
  'vnet-dice-seed0__10f420e3',
  'vnet-bce-seed0__746aefe9',
  'vnet-ce-seed0__9c717da5',
  'segnet3d-combo-beta=0.7-seed0__0abc520b',
  'segnet3d-dice-seed0__21494eb0',
  'segnet3d-bce-seed0__a8828dba',
  'segnet3d-ce-seed0__0928bff3',
];

const ids = (cfg: unknown) => experiments.cells(experiments.parseExperiment(cfg)).map((c) => c.id);
const minimal = {
  data: { msd: 'data/echo' },
  network: { name: 'proposed', options: {} },
  loss: { name: 'dice', options: {} },
  out: 'runs/x',
};

test('a configuration without precision (or with the default auto) keeps the cell ids it had before', () => {
  assert.deepEqual(ids(echoLv), ECHO_LV_IDS);
  assert.deepEqual(ids({ ...echoLv, base: { ...echoLv.base, precision: 'auto' } }), ECHO_LV_IDS);
  assert.deepEqual(ids(withBasePrecision(echoLv, undefined)), ECHO_LV_IDS, 'no --precision: as given');
  assert.deepEqual(ids(withBasePrecision(echoLv, 'auto')), ECHO_LV_IDS, '--precision auto: the default');
  // The same for one training configuration (as tuning points are keyed), pinned before the change.
  const resolved = resolvedConfig(training.parseConfig(minimal));
  assert.equal(configHash(resolved), 'f6544b6e');
  assert.ok(!('precision' in resolved), "'auto' is left out of what is hashed");
});

test('precision fp32 or bf16 is part of the hash; --precision sets it for every cell', () => {
  const bf16 = resolvedConfig(training.parseConfig({ ...minimal, precision: 'bf16' }));
  const fp32 = resolvedConfig(training.parseConfig({ ...minimal, precision: 'fp32' }));
  assert.equal(bf16.precision, 'bf16');
  assert.equal(new Set([configHash(bf16), configHash(fp32), 'f6544b6e']).size, 3);
  const flagged = withBasePrecision(echoLv, 'bf16');
  assert.equal(flagged.base.precision, 'bf16');
  assert.equal(echoLv.base.precision, undefined, 'the given configuration is not changed');
  const cells = experiments.cells(experiments.parseExperiment(flagged));
  assert.deepEqual(
    cells.map((c) => c.name),
    ECHO_LV_IDS.map((id) => id.split('__')[0]),
  );
  for (const [i, c] of cells.entries()) assert.notEqual(c.id, ECHO_LV_IDS[i], `${c.name}: a bf16 cell is another cell`);
  // The flag wins over base.precision.
  const over = withBasePrecision({ ...echoLv, base: { ...echoLv.base, precision: 'fp32' } }, 'auto');
  assert.deepEqual(ids(over), ECHO_LV_IDS);
});

test('a bad --precision for experiment or tune names the flag and the allowed values', () => {
  assert.throws(
    () => withBasePrecision(echoLv, 'fp16'),
    (e: unknown) =>
      e instanceof ComboSegError &&
      e.code === 'invalid-option' &&
      e.message === `--precision must be one of 'auto', 'fp32', 'bf16', got "fp16". Did you mean 'fp32'?`,
  );
  // In base, it is a training-configuration field like any other: the cell's problem names it.
  assert.throws(
    () => ids({ ...echoLv, base: { ...echoLv.base, precision: 'half' } }),
    /precision: must be one of 'auto', 'fp32', 'bf16', got "half"/,
  );
});
