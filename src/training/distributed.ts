// Data-parallel training on libtorch's c10d (native/src/dist.cc: TCPStore + ProcessGroupGloo):
// the process group, the broadcast that makes every rank start from rank 0's weights, gradients
// all-reduced in buckets and averaged (PyTorch's Reducer as the model: reverse parameter order,
// ~25 MiB buckets), and the cross-rank sums the losses and synchronised batch norm take
// (src/engine/collective.ts).
import { native } from '../engine/native.js';
import { Tensor } from '../engine/tensor-core.js';
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { cat } from '../engine/ops/shape.js';
import { zeros } from '../engine/ops/creation.js';
import { ComboSegError } from '../engine/errors.js';
import { setBatchAllReduce } from '../engine/collective.js';
import type { Module } from '../nn/module.js';

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
        `within ${o.timeoutMs / 1000} s: ${why}`,
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
