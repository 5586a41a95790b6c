// Devices: where a tensor's data lives. 'cpu', or a CUDA device ('cuda' is 'cuda:0'). Data sets,
// checkpoints and results stay on the CPU; a run moves its network and each batch to its device.
import { z } from 'zod';
import { callT } from './ops/dispatch.js';
import { noGrad } from './autograd.js';
import type { Tensor } from './tensor-core.js';
import { ComboSegError } from './errors.js';
import { SCALAR_TYPE } from './dtype.js';

export const DeviceSchema = z
  .string()
  .regex(/^(cpu|cuda(:\d+)?)$/, "must be 'cpu', 'cuda' or 'cuda:N'")
  .describe("'cpu', 'cuda' (the first GPU) or 'cuda:N'");
export type Device = z.infer<typeof DeviceSchema>;

/** libtorch's own spelling of a device ('cuda' → 'cuda:0'), for comparisons. */
export function normaliseDevice(device: string): string {
  return device === 'cuda' ? 'cuda:0' : device;
}

/** A copy of `t` on `device` (the same tensor if it is already there); differentiable. */
export function to(t: Tensor, device: string): Tensor {
  if (normaliseDevice(t.device) === normaliseDevice(device)) return t;
  try {
    return callT('aten::to.device', t, device, SCALAR_TYPE[t.dtype], false, false, null);
  } catch (e) {
    if (device.startsWith('cuda') && e instanceof Error && /CUDA/i.test(e.message)) {
      // The addon's own message already says what to install; libtorch's raw one does not.
      if (e.message.includes('COMBOSEG_LIBTORCH')) {
        throw new ComboSegError(e.message.replace(/^aten::to\.device: /, ''), { code: 'unsupported', cause: e });
      }
      throw new ComboSegError(
        `device '${device}': this libtorch cannot reach a CUDA device (${e.message.split('\n')[0]}); ` +
          'build the addon against a CUDA build of PyTorch 2.x (COMBOSEG_LIBTORCH=.../site-packages/torch) ' +
          'on a machine with an NVIDIA GPU, or use --device cpu',
        { code: 'unsupported', cause: e },
      );
    }
    throw e;
  }
}

/** Moves `t` itself to `device`, keeping the Tensor object (and whether it requires grad). */
export function moveTo_(t: Tensor, device: string): Tensor {
  if (normaliseDevice(t.device) === normaliseDevice(device)) return t;
  const grad = t.requiresGrad;
  noGrad(() => t.adopt(to(t, device)));
  if (grad) t.requiresGrad = true;
  return t;
}
