// `comboseg train --nproc` end to end on loopback: 2 ranks × batch 1 with --sync-bn reach the weights of one
// process × batch 2; kill -9 of the launcher then --resume reaches an uninterrupted run's weights; a rank
// that dies, a port in use, a wrong world size and a peer that never comes end in one clear error within
// the timeout, with no process left behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, engineInfo } from '../../src/index.js';
import { native } from '../../src/engine/native.js';
import { freeLoopbackPort } from '../../src/training/launch.js';
import { rankShare } from '../../src/training/trainer.js';
import { checkpointWeights } from '../helpers.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const skip = native.distInfo().available
  ? false
  : `c10d Gloo is not in this build (libtorch ${engineInfo().torchVersion})`;
const root = mkdtempSync(join(tmpdir(), 'comboseg-ddp-cli-'));
const dataDir = join(root, 'data');
after(() => rmSync(root, { recursive: true, force: true }));
if (!skip) await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 6, seed: 3, size: [32, 32, 48] });

/** Plain SGD: a step proportional to the gradient, so a wrong cross-rank sum or average shows in the weights. */
function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
  const path = join(root, `${name}.json`);
  const config = {
    data: { msd: dataDir },
    split: { validation: 0.2, test: 0.2, seed: 0 },
    network: { name: 'proposed', options: { channels: [4, 8] } },
    loss: { name: 'combo', options: { beta: 0.4 } },
    sampler: { kind: 'paper', patchSize: [16, 16, 16], perOrgan: 2, background: 1 },
    batchSize: 2,
    epochs: 1,
    patchesPerEpoch: 12,
    optimizer: { name: 'sgd', lr: 0.05 },
    inference: { mode: 'window', stride: 8 },
    precision: 'fp32',
    seed: 5,
    out: join(root, name),
    ...extra,
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

interface Finished {
  code: number | null;
  out: string;
  err: string;
  seconds: number;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Finished> } {
  const began = performance.now();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code) => resolve({ code, out, err, seconds: (performance.now() - began) / 1000 })),
  );
  return { child, done };
}

/** The pids under `pid` (children, grandchildren …), found now. */
function descendants(pid: number): number[] {
  let direct: number[] = [];
  try {
    direct = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  return direct.flatMap((p) => [p, ...descendants(p)]);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until none of `pids` runs; fails naming those still running after `seconds`. */
async function allGone(pids: number[], seconds: number): Promise<void> {
  const until = performance.now() + seconds * 1000;
  while (pids.some(alive) && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pids.filter(alive), [], 'processes left running');
}

/** Waits until `cond` holds, polling; fails after `seconds`. */
async function until(cond: () => boolean, seconds: number, what: string): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (!cond()) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const modelWeights = checkpointWeights;

/**
 * The tolerance: the model's state as one vector within 1e-3 relative (L2), and every tensor within 1e-3
 * of its largest value, or within 1e-5 absolutely. (Biases and batch-norm shifts are small, and their
 * gradients are sums over every voxel of the batch: fp32 summation order, which differs between one
 * process and two, is most of their value. Conv biases before a batch norm have a gradient of zero up to
 * that rounding: the norm subtracts them.)
 */
function assertSameWeights(actual: Record<string, number[]>, expected: Record<string, number[]>): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  let num = 0,
    den = 0;
  for (const [name, w] of Object.entries(expected)) {
    const scale = Math.max(...w.map(Math.abs));
    const diff = Math.max(...w.map((v, i) => Math.abs(v - actual[name][i])));
    w.forEach((v, i) => {
      num += (v - actual[name][i]) ** 2;
      den += v * v;
    });
    assert.ok(diff <= Math.max(1e-3 * scale, 1e-5), `${name}: max difference ${diff} (largest value ${scale})`);
  }
  assert.ok(Math.sqrt(num / den) <= 1e-3, `relative L2 difference ${Math.sqrt(num / den)}`);
}

const trainLosses = (runDir: string): number[] =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { trainLoss: number }).trainLoss);

test(
  '2 ranks × batch 1 with --sync-bn end with the weights of 1 process × batch 2 (≤ 1e-3 relative)',
  { skip },
  async () => {
    const config = writeConfig('exact');
    const two = await start(['train', '--config', config, '--nproc', '2', '--sync-bn', '--out', join(root, 'two')])
      .done;
    assert.equal(two.code, 0, two.err);
    const one = await start(['train', '--config', config, '--out', join(root, 'one')]).done;
    assert.equal(one.code, 0, one.err);
    assert.match(two.out, /data-parallel: ranks 0–1 of 2/);
    assertSameWeights(modelWeights(join(root, 'two')), modelWeights(join(root, 'one')));
    const [a, b] = [trainLosses(join(root, 'two')), trainLosses(join(root, 'one'))];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-5 * Math.abs(b[i]), `epoch ${i + 1}: ${v} vs ${b[i]}`));
    // Rank 1 logged to its file; rank 0 alone wrote the run's files.
    assert.match(readFileSync(join(root, 'two', 'rank-1.log'), 'utf8'), /rank 1\n[\s\S]*precision: fp32/);
  },
);

test('kill -9 of the launcher, then --resume: the weights of an uninterrupted run', { skip }, async () => {
  const config = writeConfig('killed', { epochs: 2, patchesPerEpoch: 24 });
  const whole = await start(['train', '--config', config, '--nproc', '2', '--out', join(root, 'whole')]).done;
  assert.equal(whole.code, 0, whole.err);
  const run = start(['train', '--config', config, '--nproc', '2']);
  let out = '';
  run.child.stderr?.on('data', (d: Buffer) => (out += d.toString())); // the progress bar
  await until(() => /epoch 1: [1-9]\d*\/24/.test(out), 60, 'a first step');
  const launcher = run.child.pid as number;
  const tree = descendants(launcher);
  assert.ok(tree.length >= 3, `the CLI and its 2 ranks under the launcher: ${tree.join(', ')}`);
  process.kill(launcher, 'SIGKILL');
  await allGone(tree, 30);
  assert.ok(existsSync(join(root, 'killed', 'last.safetensors')), 'rank 0 saved where the ranks stopped');
  const resumed = await start(['train', '--resume', join(root, 'killed'), '--nproc', '2']).done;
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /resuming at epoch/);
  assertSameWeights(modelWeights(join(root, 'killed')), modelWeights(join(root, 'whole')));
});

test(
  'a rank that dies stops the others at once, with one error naming it, and leaves no process',
  { skip },
  async () => {
    const config = writeConfig('dies', { epochs: 20, patchesPerEpoch: 24 });
    const run = start(['train', '--config', config, '--nproc', '2']);
    let out = '';
    run.child.stderr?.on('data', (d: Buffer) => (out += d.toString())); // the progress bar
    await until(() => /epoch 1: [1-9]\d*\/24/.test(out), 60, 'a first step');
    const tree = descendants(run.child.pid as number);
    const cli = tree[0];
    const ranks = descendants(cli);
    assert.equal(ranks.length, 2, `2 ranks under the CLI: ${ranks.join(', ')}`);
    const killedAt = performance.now();
    process.kill(ranks[1], 'SIGKILL');
    const r = await run.done;
    assert.ok((performance.now() - killedAt) / 1000 < 15, 'the run ended within 15 s');
    assert.notEqual(r.code, 0);
    assert.match(r.err, new RegExp(`rank 1 \\(pid ${ranks[1]}\\) was killed by SIGKILL before the run ended`));
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    await allGone(tree, 10);
  },
);

/** A run that must fail: its error text, within the rendezvous timeout (+ start-up), leaving no process. */
async function failsClearly(args: string[], timeoutSeconds: number): Promise<string> {
  const run = start(args);
  const r = await run.done;
  assert.notEqual(r.code, 0, r.out);
  assert.ok(r.seconds < timeoutSeconds + 30, `ended after ${r.seconds} s`);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  await allGone(descendants(run.child.pid as number), 5);
  return r.err;
}

test('a port in use: a clear error naming the rendezvous address', { skip }, async () => {
  const busy: Server = createServer();
  const port = await freeLoopbackPort();
  await new Promise<void>((r) => busy.listen(port, '127.0.0.1', r));
  try {
    const config = writeConfig('busy');
    const err = await failsClearly(
      ['train', '--config', config, '--nproc', '2', '--master', `127.0.0.1:${port}`, '--dist-timeout', '5'],
      5,
    );
    assert.match(err, new RegExp(`rank 0: rank 0 of 2: could not join the process group at 127.0.0.1:${port}`));
    assert.match(err, /address already in use/i);
  } finally {
    busy.close();
  }
});

test('hosts that disagree on the world size: a clear error, not a hang', { skip }, async () => {
  const config = writeConfig('world');
  const port = await freeLoopbackPort();
  const at = ['--master', `127.0.0.1:${port}`, '--dist-timeout', '8', '--nnodes', '2'];
  const [node0, node1] = await Promise.all([
    failsClearly(['train', '--config', config, ...at, '--node-rank', '0', '--nproc', '1'], 8),
    failsClearly(['train', '--config', config, ...at, '--node-rank', '1', '--nproc', '2'], 8),
  ]);
  // Rank 0 records the world size first; the host started for another one fails at once, naming both.
  assert.match(node1, /rank [23] was started for a world of 4 process\(es\), but rank 0 at .* was started for 2/);
  assert.match(node0, /rank 0 of 2: could not join the process group/);
});

test('a peer that never comes: a clear error within the timeout', { skip }, async () => {
  const config = writeConfig('alone');
  const port = await freeLoopbackPort();
  const err = await failsClearly(
    [
      'train',
      '--config',
      config,
      '--nnodes',
      '2',
      '--node-rank',
      '0',
      '--master',
      `127.0.0.1:${port}`,
      '--dist-timeout',
      '3',
    ],
    3,
  );
  assert.match(
    err,
    new RegExp(`rank 0 of 2: could not join the process group at 127.0.0.1:${port} \\(waiting at most 3 s\\)`),
  );
});

test('a global batch is cut into contiguous, even shares; too small a batch gives every rank none', () => {
  const batch = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(
    [0, 1].map((rank) => rankShare(batch, { rank, worldSize: 2 })),
    [
      ['a', 'b'],
      ['c', 'd', 'e'],
    ],
  );
  assert.deepEqual(rankShare(batch, { rank: 0, worldSize: 1 }), batch);
  assert.equal(rankShare(['a'], { rank: 0, worldSize: 2 }), null);
});
