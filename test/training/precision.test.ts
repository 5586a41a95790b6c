// The training configuration's `precision`: the network trains and validates in it, the log says
// which and why, run.json records it (config.json keeps the setting), and checkpoints stay float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuPrecision, data, inference, training } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-precision-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 3, seed: 4, size: [16, 16, 16] });

const config = (out: string, more: Record<string, unknown> = {}) => ({
  data: { msd: dataDir },
  split: { validation: 0.34, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo' },
  sampler: { kind: 'paper', patchSize: 16, perOrgan: 1, background: 1 },
  batchSize: 2,
  epochs: 2,
  patchesPerEpoch: 2,
  optimizer: { name: 'adam', lr: 0.01 },
  inference: { mode: 'whole' },
  out: join(root, out),
  ...more,
});

const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

test("precision 'bf16': trains and validates, says so; run.json records bf16; checkpoints stay float32", async () => {
  const logs: string[] = [];
  const r = await training.train(config('bf16', { precision: 'bf16' }), { events: { log: (m) => logs.push(m) } });
  assert.equal(r.records.length, 2);
  for (const rec of r.records) {
    assert.ok(Number.isFinite(rec.trainLoss), `epoch ${rec.epoch}: loss ${rec.trainLoss}`);
    assert.ok(rec.meanDice !== null && rec.meanDice >= 0, `epoch ${rec.epoch}: validated`);
  }
  assert.ok(logs.includes('precision: bf16 (as configured)'), logs.join('\n'));
  const run = new training.RunDir(join(root, 'bf16'));
  assert.equal(run.readInfo().precision, 'bf16');
  assert.equal(readJson(run.infoPath).precision, 'bf16');
  assert.equal(readJson(run.configPath).precision, 'bf16');
  const model = inference.loadModel(run.bestPath);
  try {
    const dtypes = new Set(Object.values(model.network.stateDict()).map((t) => t.dtype));
    assert.deepEqual([...dtypes], ['float32']);
  } finally {
    model.network.dispose();
  }
});

test('a resumed run that now computes in another precision says so; a bad run.json precision is named', async () => {
  const run = new training.RunDir(join(root, 'bf16'));
  const info = readJson(run.infoPath);
  writeFileSync(run.infoPath, JSON.stringify({ ...info, precision: 'fp32' })); // as if started where auto was fp32
  const logs: string[] = [];
  const r = await training.train(config('bf16', { precision: 'bf16', epochs: 3 }), {
    resume: true,
    events: { log: (m) => logs.push(m) },
  });
  assert.equal(r.records.length, 3);
  assert.ok(logs.includes(`${run.infoPath}: the run started in fp32; it continues in bf16`), logs.join('\n'));
  writeFileSync(run.infoPath, JSON.stringify({ ...info, precision: 'fp16' }));
  assert.throws(() => run.readInfo(), /run\.json: "precision" must be "fp32" or "bf16", got "fp16"/);
});

test("a resumed 'auto' run keeps the precision it started in, whatever this CPU would choose now", async () => {
  const run = new training.RunDir(join(root, 'bf16'));
  const info = readJson(run.infoPath);
  writeFileSync(run.infoPath, JSON.stringify({ ...info, precision: 'fp32' }));
  const logs: string[] = [];
  const r = await training.train(config('bf16', { precision: 'auto', epochs: 4 }), {
    resume: true,
    events: { log: (m) => logs.push(m) },
  });
  assert.equal(r.records.length, 4);
  assert.ok(logs.includes('precision: fp32 (auto: the precision the run started in)'), logs.join('\n'));
  assert.ok(!logs.some((l) => l.includes('it continues in')), logs.join('\n'));
});

test("a resumed 'auto' run from before precisions existed (run.json without one) continues in fp32", async () => {
  const run = new training.RunDir(join(root, 'bf16'));
  const info = readJson(run.infoPath);
  delete info.precision;
  writeFileSync(run.infoPath, JSON.stringify(info));
  const logs: string[] = [];
  await training.train(config('bf16', { precision: 'auto', epochs: 5 }), {
    resume: true,
    events: { log: (m) => logs.push(m) },
  });
  assert.ok(
    logs.includes('precision: fp32 (auto: the run started before comboseg had bf16, in fp32)'),
    logs.join('\n'),
  );
});

test("precision 'auto' (the default) is the CPU's measured choice, logged with its reason", async () => {
  const logs: string[] = [];
  await training.train(config('auto', { epochs: 1, split: { validation: 0, test: 0, seed: 0 } }), {
    events: { log: (m) => logs.push(m) },
  });
  const choice = cpuPrecision();
  assert.ok(logs.includes(`precision: ${choice.precision} (auto: ${choice.reason})`), logs.join('\n'));
  const run = new training.RunDir(join(root, 'auto'));
  assert.equal(run.readInfo().precision, choice.precision);
  assert.equal(run.readConfig().precision, 'auto', 'config.json keeps the setting');
});

test('a bad precision in a configuration names the field and the allowed values', () => {
  assert.throws(
    () => training.parseConfig(config('bad', { precision: 'fp16' })),
    /precision: must be one of 'auto', 'fp32', 'bf16', got "fp16"/,
  );
  assert.equal(training.parseConfig(config('default')).precision, 'auto');
});

test.after(() => rmSync(root, { recursive: true, force: true }));
