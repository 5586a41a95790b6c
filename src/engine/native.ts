// Loads the N-API addon and describes its surface. Nothing here has policy:
// see tensor.ts and ops/ for the API built on it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from './errors.js';

export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'int16' | 'int8' | 'uint8' | 'bool';

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

export interface NativeBinding {
  TensorHandle: abstract new () => TensorHandle;
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: DType, copy: boolean): TensorHandle;
  lookupOp(name: string, overload: string): { id: number; schema: string };
  callOp(id: number, args: NativeValue[]): NativeValue;
  conv3d(
    x: TensorHandle,
    w: TensorHandle,
    b: TensorHandle | null,
    stride: Triple,
    padding: Triple,
    dilation: Triple,
    groups: number,
  ): TensorHandle;
  convTranspose3d(
    x: TensorHandle,
    w: TensorHandle,
    b: TensorHandle | null,
    stride: Triple,
    padding: Triple,
    dilation: Triple,
    groups: number,
    outputPadding: Triple,
  ): TensorHandle;
  setGradEnabled(on: boolean): void;
  isGradEnabled(): boolean;
  manualSeed(seed: number | bigint): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  buildInfo(): { torchVersion: string; mkldnn: boolean; parallel: string };
}

const here = dirname(fileURLToPath(import.meta.url));

function findAddon(): string {
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

export const native: NativeBinding = createRequire(import.meta.url)(findAddon()) as NativeBinding;

// libtorch's default here is 1 thread; use the cores we have unless told otherwise.
const wanted = Number(process.env.COMBOSEG_THREADS ?? availableParallelism());
if (Number.isInteger(wanted) && wanted > 0) native.setNumThreads(wanted);
