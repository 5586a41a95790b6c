// Process-wide engine settings: seeds, threads, build facts.
import { native } from './native.js';
import { ComboSegError } from './errors.js';

/** Seeds libtorch's default generator (rand, randn, uniform_, normal_, dropout). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) {
    throw new ComboSegError(`manualSeed: seed must be a non-negative integer, got ${seed}`, {
      code: 'invalid-option',
      path: 'seed',
    });
  }
  native.manualSeed(seed);
}

/** Threads for libtorch's intra-op pool (default: the machine's cores, or COMBOSEG_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ComboSegError(`setNumThreads: expected a positive integer, got ${n}`, {
      code: 'invalid-option',
      path: 'n',
    });
  }
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** libtorch version, oneDNN availability, parallel back-end, and whether tcmalloc is preloaded. */
export function engineInfo(): {
  torchVersion: string;
  mkldnn: boolean;
  threads: number;
  tcmalloc: boolean;
  parallel: string;
} {
  const b = native.buildInfo();
  return {
    torchVersion: b.torchVersion,
    mkldnn: b.mkldnn,
    threads: native.getNumThreads(),
    tcmalloc: /tcmalloc/.test(process.env.LD_PRELOAD ?? ''),
    parallel: b.parallel,
  };
}
