// Loads the N-API addon and describes its surface. Nothing here has policy:
// see tensor.ts and ops/ for the API built on it. The addon is native/build/Release/comboseg.node
// (Debian's libtorch), or the file COMBOSEG_ADDON names (a build against another libtorch).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
  // src/engine (tsx) and dist/src/engine (built) both sit below the package root.
  for (const up of ['../..', '../../..']) {
    const p = join(here, up, 'native/build/Release/comboseg.node');
    if (existsSync(p)) return p;
  }
  throw new ComboSegError(
    'comboseg native addon not built (native/build/Release/comboseg.node is missing). ' +
      'Run `npm run setup` (installs libtorch-dev and builds the addon).',
    { code: 'not-found', path: 'native/build/Release/comboseg.node' },
  );
}

// OpenBLAS reads its thread count once, when libtorch pulls it in: set it before
// loading. libtorch's own pool does the parallel work; two pools oversubscribe.
process.env.OPENBLAS_NUM_THREADS ??= '1';

/** The addon file loaded (COMBOSEG_ADDON, or the default build). */
export const addonPath = findAddon();

export const native: NativeBinding = createRequire(import.meta.url)(addonPath) as NativeBinding;

// libtorch's default here is 1 thread; use the cores we have unless told otherwise.
const wanted = Number(process.env.COMBOSEG_THREADS ?? availableParallelism());
if (Number.isInteger(wanted) && wanted > 0) native.setNumThreads(wanted);
