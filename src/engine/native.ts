// Loads the N-API addon and describes its surface. Nothing here has policy:
// see tensor.ts and ops/ for the API built on it. The addon is the file COMBOSEG_ADDON names (a build
// against another libtorch), a source checkout's native/build/Release/comboseg.node (Debian's libtorch),
// or, for an installed package, the build `comboseg setup` left in the cache for this libtorch and Node.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from './errors.js';

export type DType = 'float32' | 'float64' | 'bfloat16' | 'int32' | 'int64' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TensorHandle {
  shape(): number[];
  dtype(): DType;
  device(): string;
  disposed(): boolean;
  dispose(): void;
  item(): number | boolean;
  toArray(): Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array;
  requiresGrad(): boolean;
  setRequiresGrad(on: boolean): void;
  grad(): TensorHandle | null;
  zeroGrad(): void;
  backward(gradient: TensorHandle | null, retainGraph: boolean): void;
  isLeaf(): boolean;
  dataPtr(): bigint;
}

/** What the op dispatcher takes and gives: handles, numbers, booleans, strings, null and arrays of them. */
export type NativeValue = TensorHandle | number | boolean | string | null | undefined | bigint | NativeValue[];

type Triple = number | number[];

/** (x, w, bias, stride, padding, dilation, groups) → the convolution's output. */
type Conv3dFn = (
  x: TensorHandle,
  w: TensorHandle,
  b: TensorHandle | null,
  stride: Triple,
  padding: Triple,
  dilation: Triple,
  groups: number,
) => TensorHandle;

/** The same with the transposed convolution's output padding last. */
type ConvTranspose3dFn = (...args: [...Parameters<Conv3dFn>, outputPadding: Triple]) => TensorHandle;

export interface NativeBinding {
  TensorHandle: abstract new () => TensorHandle;
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: DType, copy: boolean): TensorHandle;
  lookupOp(name: string, overload: string): { id: number; schema: string };
  callOp(id: number, args: NativeValue[]): NativeValue;
  conv3d: Conv3dFn;
  convTranspose3d: ConvTranspose3dFn;
  /** conv3d in bf16 (x float32 or bfloat16, w float32); returns bfloat16. */
  conv3dBf16: Conv3dFn;
  /** convTranspose3d in bf16; returns bfloat16. */
  convTranspose3dBf16: ConvTranspose3dFn;
  /** bf16 batch norm on oneDNN (Debian's build only); returns bf16 channels-last. */
  batchNormBf16(
    x: TensorHandle,
    weight: TensorHandle,
    bias: TensorHandle,
    runningMean: TensorHandle,
    runningVar: TensorHandle,
    training: boolean,
    momentum: number,
    eps: number,
  ): TensorHandle;
  /** bf16 max pooling without padding on oneDNN (Debian's build only). */
  maxPool3dBf16(x: TensorHandle, kernel: Triple, stride: Triple): TensorHandle;
  /** bf16 nearest up-sampling to a size on oneDNN (Debian's build only). */
  upsampleNearest3dBf16(x: TensorHandle, size: number[]): TensorHandle;
  /** c10d: join (rank 0: host) the TCPStore at host:port and make this process's Gloo group. */
  distInit(rank: number, size: number, host: string, port: number, timeoutMs: number): void;
  distDestroy(): void;
  /** Sums each tensor over ranks, in place. */
  distAllReduce(tensors: TensorHandle[]): void;
  /** Rank `root`'s values everywhere, in place. */
  distBroadcast(tensors: TensorHandle[], root: number): void;
  distBarrier(): void;
  /** A new tensor: the sum over ranks, whose gradient is summed over ranks too. */
  distAllReduceSum(x: TensorHandle): TensorHandle;
  distInfo(): { available: boolean; backend: string; rank?: number; size?: number };
  setGradEnabled(on: boolean): void;
  isGradEnabled(): boolean;
  manualSeed(seed: number | bigint): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  buildInfo(): BuildInfo;
}

/** What the addon was built against (native/src/engine_info.cc). */
export interface BuildInfo {
  /** libtorch's version as compiled against, e.g. '1.13.0' or '2.13.0'. */
  torchVersion: string;
  /** The libtorch folder the addon was built against: '/usr' (Debian) or COMBOSEG_LIBTORCH. */
  libtorch: string;
  mkldnn: boolean;
  /** conv3d / convTranspose3d: 'onednn' (hand-made, libtorch 1.13) or 'aten' (libtorch's own choice). */
  convPath: 'onednn' | 'aten';
  /** bf16 convolutions: 'onednn-api' (oneDNN's own API, layouts its choice; Debian's build) or 'aten' (bf16 casts). */
  bf16ConvPath: 'onednn-api' | 'aten';
  parallel: string;
  onednn: {
    version: string;
    /** The instruction set oneDNN dispatches to, e.g. 'avx512_core_bf16'. */
    isa: string;
    /** 'onednn': oneDNN's own answer; 'cpu-flags': the best its ladder allows on this CPU (oneDNN's API hidden). */
    isaFrom: 'onednn' | 'cpu-flags';
  };
  cuda: { built: boolean; available: boolean; deviceCount: number };
}

const here = dirname(fileURLToPath(import.meta.url));

/** The libtorch a build would use: COMBOSEG_LIBTORCH's folder, else Debian's; its version and CPU/CUDA. */
export function installedLibtorch(): { dir: string; version: string; cuda: boolean } | null {
  const dir = process.env.COMBOSEG_LIBTORCH ? resolve(process.env.COMBOSEG_LIBTORCH) : '/usr';
  const api = dir === '/usr' ? '/usr/include/torch/csrc/api/include' : join(dir, 'include/torch/csrc/api/include');
  // torch/version.h (2.x moved the numbers to torch/headeronly/version.h); scripts/build-native.mjs reads the same.
  const text = [join(api, 'torch/version.h'), join(api, '../../../headeronly/version.h')]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const part = (name: string) => text.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`))?.[1];
  const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  if (major === undefined || minor === undefined) return null;
  const libDirs =
    dir === '/usr' ? ['/usr/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'] : [join(dir, 'lib')];
  const cuda = libDirs.some((d) => existsSync(join(d, 'libtorch_cuda.so')));
  return { dir, version: `${major}.${minor}.${patch ?? 0}`, cuda };
}

/** This package's version (package.json beside src/ or dist/src/): its native sources go with it. */
function packageVersion(): string {
  for (const up of ['../..', '../../..']) {
    const p = join(here, up, 'package.json');
    if (existsSync(p)) return String((JSON.parse(readFileSync(p, 'utf8')) as { version?: unknown }).version);
  }
  return 'unknown';
}

/**
 * Where `comboseg setup` builds the addon for an installed package: one folder per comboseg version,
 * libtorch version, CPU/CUDA, Node ABI and architecture, so an upgrade of any of them asks for a
 * build, never loads a stale one. Under $COMBOSEG_CACHE, else $XDG_CACHE_HOME/comboseg, else ~/.cache/comboseg.
 */
export function addonCacheDir(torch: { version: string; cuda: boolean }): string {
  const base = process.env.COMBOSEG_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'comboseg');
  const node = `node-abi${process.versions.modules}-${process.arch}`;
  const key = `comboseg-${packageVersion()}-libtorch-${torch.version}-${torch.cuda ? 'cuda' : 'cpu'}-${node}`;
  return join(base, 'addon', key);
}

/** What to run when no addon is there. */
const SETUP_HINT =
  'run `npx comboseg setup` (it says which Debian packages are missing, and builds the addon against libtorch; ' +
  'COMBOSEG_LIBTORCH=<folder> points it at a PyTorch build)';

function findAddon(): string {
  // COMBOSEG_ADDON: an addon built against another libtorch (scripts/build-native.mjs names it).
  const chosen = process.env.COMBOSEG_ADDON;
  if (chosen) {
    if (existsSync(chosen)) return resolve(chosen);
    throw new ComboSegError(
      `COMBOSEG_ADDON=${chosen}: no such file. Build it with COMBOSEG_LIBTORCH=<libtorch folder> ` +
        'node scripts/build-native.mjs (it prints the path), or unset COMBOSEG_ADDON for the default addon.',
      { code: 'not-found', path: chosen },
    );
  }
  // A source checkout's build (npm run setup): src/engine (tsx) and dist/src/engine (built) sit below the root.
  if (!process.env.COMBOSEG_LIBTORCH) {
    for (const up of ['../..', '../../..']) {
      const p = join(here, up, 'native/build/Release/comboseg.node');
      if (existsSync(p)) return p;
    }
  }
  // An installed package: the build `comboseg setup` made for this libtorch and this Node.
  const torch = installedLibtorch();
  if (!torch) {
    throw new ComboSegError(`comboseg's engine needs libtorch, and none is installed: ${SETUP_HINT}`, {
      code: 'not-found',
    });
  }
  const cached = join(addonCacheDir(torch), 'build/Release/comboseg.node');
  if (existsSync(cached)) return cached;
  throw new ComboSegError(
    `comboseg's native addon is not built for this comboseg, libtorch ${torch.version} and Node ABI ` +
      `${process.versions.modules}: ` +
      SETUP_HINT,
    { code: 'not-found', path: cached },
  );
}

// OpenBLAS reads its thread count once, when libtorch pulls it in: set it before
// loading. libtorch's own pool does the parallel work; two pools oversubscribe.
process.env.OPENBLAS_NUM_THREADS ??= '1';

let loaded: { path: string; binding: NativeBinding } | null = null;

/** Loads the addon at first use (so that `comboseg setup`, and importing the package, need none yet). */
function load(): { path: string; binding: NativeBinding } {
  if (loaded) return loaded;
  const path = findAddon();
  const binding = createRequire(import.meta.url)(path) as NativeBinding;
  // libtorch's default here is 1 thread; use the cores we have unless told otherwise.
  const wanted = Number(process.env.COMBOSEG_THREADS ?? availableParallelism());
  if (Number.isInteger(wanted) && wanted > 0) binding.setNumThreads(wanted);
  loaded = { path, binding };
  return loaded;
}

/** The addon file loaded (COMBOSEG_ADDON, a checkout's build, or the cached build for this libtorch). */
export const addonPath = (): string => load().path;

/**
 * The addon, loaded at its first use; a missing build is one ComboSegError saying what to run. The
 * first access goes through a proxy that loads it and then rebinds this export to the addon itself
 * (importers see ES modules' live binding), so op calls pay for no proxy afterwards.
 */
export let native: NativeBinding = new Proxy({} as NativeBinding, {
  get: (_target, key) => {
    native = load().binding;
    return Reflect.get(native, key) as unknown;
  },
});
