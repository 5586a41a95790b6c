// conv3d forward + backward throughput, oneDNN path vs libtorch's own choice.
import { tidy, rand, conv3d, type ConvBackend, type Precision } from '../src/index.js';

/** GFLOP/s of forward + input-gradient + weight-gradient for a 3×3×3 conv, batch 1, c → c channels at size³. */
export function convGflops(
  size: number,
  channels: number,
  backend: ConvBackend,
  reps: number,
  precision: Precision = 'fp32',
): number {
  // In bf16 the activations between layers are bf16: so are this input and its upstream gradient.
  const dtype = precision === 'bf16' ? 'bfloat16' : 'float32';
  const x = rand([1, channels, size, size, size]).cast(dtype);
  const w = rand([channels, channels, 3, 3, 3]).mul(0.1);
  const g = rand([1, channels, size, size, size]).cast(dtype); // a dense upstream gradient, as in training
  x.requiresGrad = true;
  w.requiresGrad = true;
  const step = () =>
    tidy(() => {
      conv3d(x, w, null, { padding: 1, backend, precision }).backward(g);
      x.zeroGrad();
      w.zeroGrad();
    });
  step();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  for (const t of [x, w, g]) t.dispose();
  times.sort((a, b) => a - b);
  const seconds = times[Math.floor(times.length / 2)] / 1000;
  const flops = 3 * 2 * channels * channels * 27 * size ** 3; // forward, grad input, grad weight
  return flops / seconds / 1e9;
}
