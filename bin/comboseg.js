#!/usr/bin/env node
// The comboseg launcher. tcmalloc must be preloaded before Node starts and
// OpenBLAS's thread count fixed before libtorch loads, so the launcher re-runs
// itself once with that environment, then starts the CLI (built JS in dist/,
// or the TypeScript sources through tsx in a source checkout).
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
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
  const env = {
    ...process.env,
    COMBOSEG_LAUNCHED: '1',
    OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1',
  };
  if (TCMALLOC && !(env.LD_PRELOAD ?? '').includes('tcmalloc')) {
    env.LD_PRELOAD = [TCMALLOC, env.LD_PRELOAD].filter(Boolean).join(':');
  }
  // SIGINT, SIGTERM and SIGHUP sent to this launcher reach the child, and its status is ours. A
  // terminal's Ctrl-C reaches both (one process group): the child counts signals that arrive
  // together as one (src/cli/signals.ts). If the launcher is killed outright, the child sees its
  // parent gone and stops as on SIGTERM.
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      env,
      stdio: 'inherit',
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 1) : 1));
  });
  child.on('error', (e) => {
    process.stderr.write(`comboseg: cannot start: ${e.message}\n`);
    process.exit(1);
  });
} else {
  // A source checkout runs its TypeScript (never a stale dist/); an installed package runs dist/.
  const source = join(root, 'src/cli/main.ts');
  const tsx = existsSync(source) ? await import('tsx/esm/api').catch(() => null) : null;
  if (tsx) {
    tsx.register();
    await import(pathToFileURL(source).href);
  } else {
    await import(pathToFileURL(join(root, 'dist/src/cli/main.js')).href);
  }
}
