// Sums and means over the batch. In one process the batch is all there is. In data-parallel
// training (src/training/distributed.ts) each rank holds a share of the batch, and these sums are
// all-reduced across ranks, with their gradients, so that every rank computes the statistics of
// the combined batch: a loss's Dice over all ranks' voxels, not the mean of per-rank Dice values
// (nnU-Net's DDP "batch Dice"), and synchronised batch norm's mean and variance. Every batch-level
// sum the losses and synchronised batch norm take goes through here.
import { tensor, type Tensor } from './tensor.js';
import { to } from './device.js';

/** The sum over ranks of a tensor, differentiable; null in one process. */
let acrossRanks: ((t: Tensor) => Tensor) | null = null;

/** Whether batch sums run across ranks (a process group is active). */
export function acrossRanksActive(): boolean {
  return acrossRanks !== null;
}

/** Installs (or, with null, removes) the cross-rank sum: the distributed trainer's business. */
export function setBatchAllReduce(fn: ((t: Tensor) => Tensor) | null): void {
  acrossRanks = fn;
}

/** `t` (already summed over this rank's share of the batch) summed over the whole batch. */
export function batchSum(t: Tensor): Tensor {
  return acrossRanks ? acrossRanks(t) : t;
}

/** The mean of all elements of `x` over the whole batch: global sum over global count. */
export function batchMean(x: Tensor): Tensor {
  if (!acrossRanks) return x.mean();
  const count = acrossRanks(to(tensor([x.size], [], { dtype: x.dtype }), x.device));
  return acrossRanks(x.sum()).div(count);
}
