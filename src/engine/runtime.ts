// Process-wide engine settings: seeds, threads, build facts.
import { native, addonPath } from './native.js';
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

/** What the engine is: libtorch and where it came from, oneDNN, threads, allocator, devices. */
export interface EngineInfo {
  torchVersion: string;
  /** The libtorch folder the addon was built against ('/usr' for Debian's libtorch-dev). */
  libtorch: string;
  /** The addon file loaded. */
  addon: string;
  mkldnn: boolean;
  /** oneDNN's version and the instruction set it dispatches to ('' when libtorch has no oneDNN). */
  onednn: { version: string; isa: string; isaFrom: 'onednn' | 'cpu-flags' };
  /** How conv3d / convTranspose3d run: the hand-made oneDNN path (libtorch 1.13) or ATen's choice. */
  convPath: 'onednn' | 'aten';
  /** bf16 layers: 'onednn-api' (oneDNN's own API on channels-last tensors; Debian's build) or 'aten' (bf16 casts). */
  bf16ConvPath: 'onednn-api' | 'aten';
  threads: number;
  tcmalloc: boolean;
  parallel: string;
  /** Devices libtorch can reach: 'cpu', then 'cuda:0', 'cuda:1', ... */
  devices: string[];
  /** Whether the addon's libtorch has CUDA kernels at all (a CUDA build of PyTorch 2.x). */
  cudaBuilt: boolean;
  /** The c10d process group data-parallel training can use: 'gloo' (Debian's build), or 'none'. */
  distributed: string;
}

/** libtorch version and folder, oneDNN version and ISA, threads, tcmalloc, parallel back-end, devices. */
export function engineInfo(): EngineInfo {
  const b = native.buildInfo();
  const cuda = Array.from({ length: b.cuda.available ? b.cuda.deviceCount : 0 }, (_, i) => `cuda:${i}`);
  return {
    torchVersion: b.torchVersion,
    libtorch: b.libtorch,
    addon: addonPath(),
    mkldnn: b.mkldnn,
    onednn: { ...b.onednn },
    convPath: b.convPath,
    bf16ConvPath: b.bf16ConvPath,
    threads: native.getNumThreads(),
    tcmalloc: /tcmalloc/.test(process.env.LD_PRELOAD ?? ''),
    parallel: b.parallel,
    devices: ['cpu', ...cuda],
    cudaBuilt: b.cuda.built,
    distributed: native.distInfo().backend,
  };
}
