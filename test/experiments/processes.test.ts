// `--nproc` for experiments and tuning: every run trains in N data-parallel processes, and since where
// processes run is not what they compute, the cells keep their ids (their folders); synchronised batch
// norm changes what is computed, so it is part of the hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { experiments, training } from '../../src/index.js';
import { configHash, resolvedConfig, withBaseProcesses } from '../../src/experiments/grid.js';

const echoLv = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../experiments/echo-lv.json', import.meta.url)), 'utf8'),
) as experiments.ExperimentConfig;
const ids = (cfg: unknown) => experiments.cells(experiments.parseExperiment(cfg)).map((c) => c.id);
const minimal = {
  data: { msd: 'data/echo' },
  network: { name: 'proposed', options: {} },
  loss: { name: 'dice', options: {} },
  out: 'runs/x',
};

test('--nproc sets base.distributed.nproc for every run and keeps every cell id', () => {
  const flagged = withBaseProcesses(echoLv, 2);
  assert.deepEqual(flagged.base.distributed, { nproc: 2 });
  assert.equal(echoLv.base.distributed, undefined, 'the given configuration is not changed');
  assert.deepEqual(ids(flagged), ids(echoLv));
  assert.equal(withBaseProcesses(echoLv, undefined), echoLv);
  assert.throws(() => withBaseProcesses(echoLv, 0), /--nproc/);
});

test('placement is left out of the hash, synchronised batch norm is in it', () => {
  const hash = (extra: Record<string, unknown>) =>
    configHash(resolvedConfig(training.parseConfig({ ...minimal, ...extra })));
  assert.equal(hash({}), 'f6544b6e', 'the hash from before data-parallel training existed');
  assert.equal(hash({ distributed: { nproc: 4, nnodes: 2, master: 'h:1', timeoutSeconds: 9 } }), 'f6544b6e');
  assert.notEqual(hash({ distributed: { syncBatchNorm: true } }), 'f6544b6e');
});

test('how images are shown (data.imageUnits) is left out of the hash too', () => {
  const hash = (data: Record<string, unknown>) =>
    configHash(resolvedConfig(training.parseConfig({ ...minimal, data: { ...minimal.data, ...data } })));
  assert.equal(hash({ imageUnits: 'SUV' }), 'f6544b6e');
  assert.throws(() => training.parseConfig({ ...minimal, data: { ...minimal.data, imageUnits: 'HU' } }), /imageUnits/);
});
