// One writer per folder: a live holder is refused by name, a dead one's lock is taken over, and
// two processes racing for one folder get one lock between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FolderLock } from '../../src/util/lock.js';
import { ComboSegError } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'comboseg-lock-'));
const lockModule = fileURLToPath(new URL('../../src/util/lock.ts', import.meta.url));

const script = `
  const { FolderLock } = await import(${JSON.stringify(lockModule)});
  try {
    FolderLock.acquire(${JSON.stringify(dir)}, 'racer');
    console.log('got');
    await new Promise((r) => setTimeout(r, 1500));
  } catch (e) {
    console.log(e.code);
  }`;
const race = () =>
  new Promise<string>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('exit', () => resolve(out.trim()));
  });

test('a live holder is refused with its pid and what it runs; release frees the folder', () => {
  const lock = FolderLock.acquire(dir, 'train');
  const file = join(dir, FolderLock.FILE);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
  assert.throws(
    () => FolderLock.acquire(dir, 'predict'),
    (e: unknown) =>
      e instanceof ComboSegError && e.code === 'conflict' && e.message.includes(`in use by pid ${process.pid} (train`),
  );
  lock.release();
  assert.ok(!existsSync(file));
  FolderLock.acquire(dir, 'again').release();
});

test('a lock left by a dead process is taken over, saying whose it was', () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
  const file = join(dir, FolderLock.FILE);
  writeFileSync(file, JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00Z', what: 'train' }));
  const logs: string[] = [];
  const lock = FolderLock.acquire(dir, 'train', (m) => logs.push(m));
  assert.deepEqual(logs, [`${dir}: taking over the lock of pid ${dead} (train), which is no longer running`]);
  lock.release();
});

test('three processes finding one stale lock: exactly one takes it over', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
  const file = join(dir, FolderLock.FILE);
  writeFileSync(file, JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00Z', what: 'train' }));
  const results = (await Promise.all([race(), race(), race()])).sort();
  assert.deepEqual(results, ['conflict', 'conflict', 'got']);
});

test('two processes racing for one folder: exactly one gets the lock', async () => {
  const results = (await Promise.all([race(), race(), race()])).sort();
  assert.deepEqual(results, ['conflict', 'conflict', 'got']);
  assert.ok(!existsSync(join(dir, FolderLock.FILE)), 'the winner released it at exit');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
