// Data-parallel training on libtorch's c10d (native/src/dist.cc: TCPStore + ProcessGroupGloo):
// the process group, the broadcast that makes every rank start from rank 0's weights, gradients
// all-reduced in buckets and averaged (PyTorch's Reducer as the model: reverse parameter order,
// ~25 MiB buckets), and the cross-rank sums the losses and synchronised batch norm take
// (src/engine/collective.ts).
import { native } from '../engine/native.js';
import { Tensor, tensor } from '../engine/tensor-core.js';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { cat } from '../engine/ops/shape.js';
import { zeros } from '../engine/ops/creation.js';
import { ComboSegError } from '../engine/errors.js';
import { setBatchAllReduce } from '../engine/collective.js';
import type { Module } from '../nn/module.js';
import { BatchNorm3d } from '../nn/layers.js';

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Where rank 0 hosts the rendezvous store. */
  host: string;
  port: number;
  /** How long any rendezvous or collective may wait for the other ranks. */
  timeoutMs: number;
}

let group: ProcessGroupOptions | null = null;

/** This process's place in the group (rank 0 of 1 outside data-parallel training). */
export function worldInfo(): { rank: number; worldSize: number } {
  return group ? { rank: group.rank, worldSize: group.worldSize } : { rank: 0, worldSize: 1 };
}

/** Joins the group; from here on the losses' batch sums run over all ranks. */
export function initProcessGroup(o: ProcessGroupOptions): void {
  if (!native.distInfo().available) {
    throw new ComboSegError(
      'distributed training needs c10d with Gloo: the default (Debian libtorch-dev + libgloo-dev) build has it; ' +
        'builds against a PyTorch wheel do not (its Gloo headers are not shipped)',
      { code: 'unsupported' },
    );
  }
  try {
    native.distInit(o.rank, o.worldSize, o.host, o.port, o.timeoutMs);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ComboSegError(
      `rank ${o.rank} of ${o.worldSize}: could not join the process group at ${o.host}:${o.port} ` +
        `(waiting at most ${o.timeoutMs / 1000} s): ${why}`,
      { code: 'distributed', cause: e },
    );
  }
  group = o;
  setBatchAllReduce((t) => new Tensor(native.distAllReduceSum(t.handle)));
}

export function destroyProcessGroup(): void {
  setBatchAllReduce(null);
  native.distDestroy();
  group = null;
}

/** Every parameter and buffer of `module` set to rank `root`'s values. */
export function broadcastModule(module: Module, root = 0): void {
  if (!group) return;
  noGrad(() =>
    native.distBroadcast(
      Object.values(module.stateDict()).map((t) => t.handle),
      root,
    ),
  );
}

/** Rank `root`'s buffers (batch-norm running statistics) everywhere, as DDP's broadcast_buffers does. */
export function broadcastBuffers(module: Module, root = 0): void {
  if (!group) return;
  const buffers = module.namedBuffers().map(([, t]) => t.handle);
  if (buffers.length) noGrad(() => native.distBroadcast(buffers, root));
}

/** Every batch norm of `module` computes its statistics over all ranks (`--sync-bn`). */
export function syncBatchNorms(module: Module): number {
  const norms = module.modules().filter((m): m is BatchNorm3d => m instanceof BatchNorm3d);
  for (const m of norms) m.sync = true;
  return norms.length;
}

export const BUCKET_BYTES = 25 * 2 ** 20;

/**
 * Averages gradients over ranks after backward: parameters in reverse order (the order backward
 * produces their gradients), packed into buckets of about 25 MiB, each bucket one all-reduce.
 */
export class GradientReducer {
  readonly buckets: Tensor[][];

  constructor(params: Tensor[], bucketBytes = BUCKET_BYTES) {
    this.buckets = [];
    let bucket: Tensor[] = [];
    let bytes = 0;
    for (const p of [...params].reverse()) {
      bucket.push(p);
      bytes += p.size * 4;
      if (bytes >= bucketBytes) {
        this.buckets.push(bucket);
        bucket = [];
        bytes = 0;
      }
    }
    if (bucket.length) this.buckets.push(bucket);
  }

  /** Sums every gradient over ranks and divides by the world size, in place. */
  reduce(): void {
    if (!group) return;
    const world = group.worldSize;
    for (const bucket of this.buckets) {
      tidy(() =>
        noGrad(() => {
          // A parameter this rank's step did not reach contributes zeros: every rank sends the same sizes.
          const grads = bucket.map((p) => p.grad);
          const flat = cat(
            grads.map((g, i) => (g ? g.reshape([-1]) : zeros([bucket[i].size]))),
            0,
          );
          native.distAllReduce([flat.handle]);
          flat.mul_(1 / world);
          let offset = 0;
          grads.forEach((g, i) => {
            if (g) g.copy_(flat.slice(0, offset, offset + g.size).reshape(g.shape));
            offset += bucket[i].size;
          });
        }),
      );
    }
  }
}

/** Waits until every rank gets here (nothing when there is no group). */
export function barrier(): void {
  if (group) native.distBarrier();
}

/** Whether `flag` holds on any rank: every rank gets the same answer (one tiny all-reduce). */
export function anyRank(flag: boolean): boolean {
  if (!group) return flag;
  return tidy(() => {
    const t = tensorOf([flag ? 1 : 0]);
    native.distAllReduce([t.handle]);
    return t.toFloat32Array()[0] > 0;
  });
}

/** Rank 0's `value` on every rank (a decision that must not differ between ranks: a time limit, a precision). */
export function fromRankZero(value: number): number {
  if (!group) return value;
  return tidy(() => {
    const t = tensorOf([value]);
    native.distBroadcast([t.handle], 0);
    return t.toFloat32Array()[0];
  });
}

/**
 * Every rank's `value` (JSON, non-finite numbers kept), in rank order, on every rank: the bytes travel as
 * one all-reduce of a [world, longest] buffer where each rank fills its own row.
 */
export function allGatherJson<T>(value: T): T[] {
  if (!group) return [value];
  const { rank, worldSize } = group;
  const bytes = new TextEncoder().encode(JSON.stringify(value, (_k, v: unknown) => encodeNonFinite(v)));
  return tidy(() => {
    const lengths = new Float32Array(worldSize);
    lengths[rank] = bytes.length;
    const lt = tensorOf(lengths);
    native.distAllReduce([lt.handle]);
    const all = lt.toFloat32Array();
    const longest = Math.max(...all);
    const buffer = new Float32Array(worldSize * longest);
    buffer.set(bytes, rank * longest); // bytes as floats: exact below 2^24
    const bt = tensorOf(buffer);
    native.distAllReduce([bt.handle]);
    const gathered = bt.toFloat32Array();
    return Array.from({ length: worldSize }, (_, r) => {
      const row = Uint8Array.from(gathered.subarray(r * longest, r * longest + all[r]));
      return JSON.parse(new TextDecoder().decode(row), (_k, v: unknown) => decodeNonFinite(v)) as T;
    });
  });
}

const NON_FINITE: Record<string, number> = { __Infinity: Infinity, '__-Infinity': -Infinity, __NaN: NaN };
function encodeNonFinite(v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? `__${v}` : v;
}
function decodeNonFinite(v: unknown): unknown {
  return typeof v === 'string' && v in NON_FINITE ? NON_FINITE[v] : v;
}

const tensorOf = (values: Float32Array | number[]): Tensor => tensor(Float32Array.from(values));
