#!/usr/bin/env node
// The comboseg launcher. tcmalloc must be preloaded before Node starts and
// OpenBLAS's thread count fixed before libtorch loads, so the launcher re-runs
// itself once with that environment, then starts the CLI (built JS in dist/,
// or the TypeScript sources through tsx in a source checkout).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TCMALLOC = [
  '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
].find((p) => existsSync(p));

if (!process.env.COMBOSEG_LAUNCHED) {
  const env = { ...process.env, COMBOSEG_LAUNCHED: '1', OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1' };
  if (TCMALLOC && !(env.LD_PRELOAD ?? '').includes('tcmalloc')) env.LD_PRELOAD = [TCMALLOC, env.LD_PRELOAD].filter(Boolean).join(':');
  // The child gets Ctrl-C from the terminal itself and stops cleanly; the launcher just waits.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { env, stdio: 'inherit' });
  process.exit(r.status ?? (r.signal ? 128 + 2 : 1));
}

// A source checkout runs its TypeScript (never a stale dist/); an installed package runs dist/.
const source = join(root, 'src/cli/main.ts');
const tsx = existsSync(source) ? await import('tsx/esm/api').catch(() => null) : null;
if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(join(root, 'dist/src/cli/main.js')).href);
}
