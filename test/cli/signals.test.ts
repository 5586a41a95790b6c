// Signals reach the command through the launcher (bin/comboseg.js): SIGTERM stops `train` after the
// step with its position saved, and closes `serve`; killing the launcher outright leaves no process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { data, loadSafetensors, dispose } from '../../src/index.js';

const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'comboseg-signals-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 4, seed: 2, size: [24, 24, 32] });

function trainConfig(out: string): string {
  const path = join(root, `${out}.json`);
  const config = {
    data: { msd: dataDir },
    split: { validation: 0.25, test: 0, seed: 0 },
    network: { name: 'proposed', options: { channels: [4, 8] } },
    loss: { name: 'combo' },
    sampler: { kind: 'paper', patchSize: 16, perOrgan: 2, background: 1 },
    epochs: 50,
    patchesPerEpoch: 6,
    inference: { mode: 'whole' },
    out: join(root, out),
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const exited = (p: ChildProcess): Promise<number | null> =>
  p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.once('exit', (code) => r(code)));

/** The launcher's child: the process that runs the command. */
function commandPid(launcher: number): number {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(launcher)], { encoding: 'utf8' }).trim();
  const pid = Number(out.split('\n')[0]);
  assert.ok(pid > 0, `launcher ${launcher} has a child`);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('SIGTERM to `comboseg train` stops after the step, saves the position and exits 143', async () => {
  const p = spawn(process.execPath, [bin, 'train', '--config', trainConfig('term')], { stdio: 'ignore' });
  const out = join(root, 'term');
  await until('the first epoch', () => existsSync(join(out, 'metrics.jsonl')));
  const pid = commandPid(p.pid ?? 0);
  p.kill('SIGTERM'); // the launcher only, as `kill PID`, systemd or a container runtime does
  assert.equal(await exited(p), 143);
  assert.ok(!alive(pid), 'no process left');
  const state = loadSafetensors(join(out, 'last.safetensors'));
  const saved = state.metadata.training as { epoch: number };
  dispose(state.tensors);
  assert.ok(saved.epoch >= 1 && saved.epoch < 50, `stopped early, saved at epoch ${saved.epoch}`);
});

test('kill -9 of the launcher: the command sees it gone, saves and stops within seconds', async () => {
  const p = spawn(process.execPath, [bin, 'train', '--config', trainConfig('orphan')], { stdio: 'ignore' });
  const out = join(root, 'orphan');
  await until('the first epoch', () => existsSync(join(out, 'metrics.jsonl')));
  const pid = commandPid(p.pid ?? 0);
  p.kill('SIGKILL');
  await exited(p);
  await until('the orphaned command to stop', () => !alive(pid), 15_000);
  const state = loadSafetensors(join(out, 'last.safetensors'));
  const saved = state.metadata.training as { epoch: number };
  dispose(state.tensors);
  assert.ok(saved.epoch < 50, `it stopped instead of training on (saved at epoch ${saved.epoch})`);
});

test('SIGTERM to `comboseg serve` closes it and exits 0, leaving no process', async () => {
  const p = spawn(process.execPath, [bin, 'serve', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  p.stdout.on('data', (b: Buffer) => (text += b.toString()));
  await until('the server to listen', () => /serving .* at http/.test(text), 60_000);
  const pid = commandPid(p.pid ?? 0);
  p.kill('SIGTERM');
  assert.equal(await exited(p), 0);
  assert.ok(!alive(pid), 'no process left');
});

test.after(() => rmSync(root, { recursive: true, force: true }));
