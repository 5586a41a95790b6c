// One writer per run directory, and resume that loses nothing: two trainers on one folder, a run
// that died before its first checkpoint, what a dead writer left behind, --force, and kill -9 at
// random points in a loop (bounded) still ending with every epoch recorded once and the weights
// of an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { data, training, ComboSegError } from '../../src/index.js';
import { FolderLock } from '../../src/util/lock.js';
import { checkpointWeights } from '../helpers.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'comboseg-writers-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 4, seed: 4, size: [24, 24, 32] });

const config = (out: string, epochs = 2) => ({
  data: { msd: dataDir },
  split: { validation: 0.25, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss: { name: 'combo' },
  sampler: { kind: 'paper', patchSize: 16, perOrgan: 1, background: 1 },
  epochs,
  patchesPerEpoch: 4,
  optimizer: { name: 'adam', lr: 0.003 },
  inference: { mode: 'whole' },
  seed: 3,
  out: join(root, out),
});

const weights = checkpointWeights;

const epochsOf = (runDir: string): number[] =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);

test('two trainers on one run directory: the second is refused, naming the first', async () => {
  const [a, b] = await Promise.allSettled([training.train(config('twice')), training.train(config('twice'))]);
  assert.equal(a.status, 'fulfilled');
  assert.equal(b.status, 'rejected');
  const e: unknown = b.reason;
  assert.ok(e instanceof ComboSegError && e.code === 'conflict', String(e));
  assert.match(e.message, new RegExp(`is in use by pid ${process.pid} \\(train`));
  assert.ok(!existsSync(join(root, 'twice', FolderLock.FILE)), 'the lock is released when training ends');
});

test("a run that died before its first checkpoint resumes by starting over; a dead writer's leftovers go", async () => {
  const out = join(root, 'early');
  const run = new training.RunDir(out);
  run.create();
  run.writeConfig(training.parseConfig(config('early')));
  writeFileSync(join(out, '.last.safetensors.999999.abc.tmp'), 'half a checkpoint');
  mkdirSync(join(out, '.comboseg-write-999999-abcdef'));
  const dead = { pid: 2 ** 22 + 17, host: hostname(), started: '2026-01-01T00:00:00Z', what: 'train' };
  writeFileSync(join(out, FolderLock.FILE), JSON.stringify(dead));
  const logs: string[] = [];
  const r = await training.train(config('early'), { resume: true, events: { log: (m) => logs.push(m) } });
  assert.deepEqual(
    r.records.map((x) => x.epoch),
    [1, 2],
  );
  assert.ok(
    logs.some((l) => l.includes('taking over the lock of pid 4194321')),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => l.includes('removed 2 file(s) a stopped writer left')),
    logs.join('\n'),
  );
  assert.ok(
    logs.some((l) => l.includes('stopped before its first checkpoint; starting it over')),
    logs.join('\n'),
  );
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith('.')),
    [],
  );
});

test('a folder holding a run: refused with the way out, or started over with force', async () => {
  await assert.rejects(training.train(config('twice')), /already holds a run; use --resume .*, --force to start/);
  const r = await training.train(config('twice'), { force: true });
  assert.equal(r.records.length, 2);
});

test('kill -9 at random points, resumed each time: every epoch recorded once, same weights', async () => {
  const epochs = 40;
  const out = join(root, 'killed');
  const cfgPath = join(root, 'killed.json');
  writeFileSync(cfgPath, JSON.stringify(config('killed', epochs)));
  let random = 12345; // a fixed sequence of kill delays
  const next = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const recorded = () => (existsSync(join(out, 'metrics.jsonl')) ? epochsOf(out).length : 0);
  let kills = 0;
  // Four kills, each once the run has recorded another epoch, a random fraction of an epoch later
  // (mid-epoch, mid-validation or mid-checkpoint), then a resume that runs to the end.
  while (kills < 4) {
    const args = existsSync(join(out, 'config.json')) ? ['--resume', out] : ['--config', cfgPath];
    const p = spawn(process.execPath, [bin, 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    const before = recorded();
    const t0 = Date.now();
    while (recorded() <= before && p.exitCode === null && Date.now() - t0 < 60_000) await sleep(10);
    assert.equal(p.exitCode, null, `the run ended before it could be killed: ${err}`);
    await sleep(400 * next());
    process.kill(-(p.pid ?? 0), 'SIGKILL');
    await exited;
    kills++;
  }
  const p = spawn(process.execPath, [bin, 'train', '--resume', out], { stdio: 'ignore' });
  assert.equal(await new Promise((r) => p.once('exit', r)), 0);
  assert.deepEqual(
    epochsOf(out),
    Array.from({ length: epochs }, (_, i) => i + 1),
  );
  await training.train(config('reference', epochs));
  assert.deepEqual(weights(out), weights(join(root, 'reference')));
});

test.after(() => rmSync(root, { recursive: true, force: true }));
