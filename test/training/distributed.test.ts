// Data-parallel training on c10d (Gloo, loopback): 2 processes × batch 1 end with the weights of
// 1 process × batch 2 over the same steps — the broadcast aligns the start, the losses' batch sums
// run over both ranks (with their gradients), and the bucketed gradient all-reduce averages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineInfo } from '../../src/index.js';
import { native } from '../../src/engine/native.js';

const worker = fileURLToPath(new URL('../fixtures/ddp-worker.ts', import.meta.url));
const available = native.distInfo().available;
const skip = available ? false : `c10d Gloo is not in this build (libtorch ${engineInfo().torchVersion})`;

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function run(rank: number, world: number, port: number, out: string, bn = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [worker, String(rank), String(world), String(port), out, bn ? 'bn' : ''];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rank ${rank} exited ${code}: ${err}`))));
  });
}

interface Result {
  values: number[];
  weights: Record<string, number[]>;
}

async function compareWithOneProcess(bn: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-ddp-'));
  try {
    const port = await freePort();
    await Promise.all([0, 1].map((r) => run(r, 2, port, join(dir, `rank${r}.json`), bn)));
    await run(0, 1, 0, join(dir, 'single.json'), bn);
    const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Result;
    const [r0, r1, single] = ['rank0.json', 'rank1.json', 'single.json'].map(read);
    // Every rank's loss is the loss of the combined batch.
    r0.values.forEach((v, i) => {
      assert.ok(Math.abs(v - single.values[i]) <= 1e-5, `step ${i}: rank 0 loss ${v} vs ${single.values[i]}`);
      assert.ok(Math.abs(r1.values[i] - single.values[i]) <= 1e-5, `step ${i}: rank 1 loss`);
    });
    // Weights, and with batch norm its running statistics.
    for (const [name, w] of Object.entries(single.weights)) {
      const scale = Math.max(...w.map(Math.abs));
      for (const r of [r0, r1]) {
        const diff = Math.max(...w.map((v, i) => Math.abs(v - r.weights[name][i])));
        assert.ok(diff <= 1e-4 * scale, `${name}: max difference ${diff} (scale ${scale})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('2 ranks × batch 1 reach the weights of 1 process × batch 2 (relative difference ≤ 1e-4)', { skip }, () =>
  compareWithOneProcess(false),
);

test('with synchronised batch norm too: weights and running statistics as 1 process × batch 2', { skip }, () =>
  compareWithOneProcess(true),
);
