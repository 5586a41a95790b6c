// Batch norm whose statistics are those of the whole batch across data-parallel ranks: per-channel
// Σx, Σx² and the voxel count summed over ranks with their gradients (engine/collective.ts), so
// forward and backward equal one process holding the combined batch. PyTorch's SyncBatchNorm
// kernels are GPU-only; this is built from differentiable ops and runs anywhere, in float32.
import type { Tensor } from '../engine/tensor.js';
import { batchSum } from '../engine/collective.js';
import { noGrad } from '../engine/autograd.js';
import { tensor } from '../engine/tensor.js';
import { to } from '../engine/device.js';

/** Training-mode batch norm over [N, C, ...] with cross-rank statistics; updates the running ones. */
export function syncBatchNorm(
  input: Tensor,
  weight: Tensor,
  bias: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  momentum: number,
  eps: number,
): Tensor {
  const x = input.dtype === 'float32' ? input : input.cast('float32');
  const dims = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)];
  const shape = [1, x.shape[1], ...Array<number>(x.rank - 2).fill(1)];
  const local = x.size / x.shape[1];
  const n = batchSum(to(tensor([local], [1]), x.device));
  const mean = batchSum(x.sum(dims)).div(n);
  const meanSq = batchSum(x.square().sum(dims)).div(n);
  const variance = meanSq.sub(mean.square()).clamp(0, null);
  noGrad(() => {
    const count = n.item();
    runningMean.mul_(1 - momentum).add_(mean, momentum);
    runningVar.mul_(1 - momentum).add_(variance.mul(count / Math.max(1, count - 1)), momentum);
  });
  return x.sub(mean.reshape(shape)).mul(variance.add(eps).rsqrt().mul(weight).reshape(shape)).add(bias.reshape(shape));
}
