// The small 3-D U-Net of bench/cpp/unet_ref.cc, driven from TypeScript through
// the engine: in 1 → 16 → 32 → 32 channels, two concatenation skips, batch
// norm, BCE with logits, batch 1, SGD (lr 0.01). Same ops, same order.
import {
  tidy,
  noGrad,
  manualSeed,
  rand,
  zeros,
  ones,
  conv3d,
  convTranspose3d,
  batchNorm,
  relu,
  maxPool3d,
  cat,
  bceWithLogits,
  type Tensor,
} from '../src/index.js';

interface Block {
  w: Tensor;
  g: Tensor;
  b: Tensor;
  rm: Tensor;
  rv: Tensor;
}

function block(cin: number, cout: number): Block {
  const w = rand([cout, cin, 3, 3, 3]).sub(0.5).mul(0.2);
  const blk = { w, g: ones([cout]), b: zeros([cout]), rm: zeros([cout]), rv: ones([cout]) };
  for (const p of [blk.w, blk.g, blk.b]) p.requiresGrad = true;
  return blk;
}

const run = (k: Block, x: Tensor) =>
  relu(batchNorm(conv3d(x, k.w, null, { padding: 1 }), k.g, k.b, k.rm, k.rv, true, 0.1, 1e-5));

/** Median milliseconds per training step over `steps` steps (after two warm-up steps). */
export function unetStepMs(steps: number, size = 64): number {
  manualSeed(0);
  const [e1, e2, bott, d2, d1] = [block(1, 16), block(16, 32), block(32, 32), block(64, 32), block(32, 16)];
  const param = (shape: number[]) => {
    const p = rand(shape).sub(0.5).mul(0.2);
    p.requiresGrad = true;
    return p;
  };
  const up2 = param([32, 32, 2, 2, 2]),
    up1 = param([32, 16, 2, 2, 2]),
    head = param([1, 16, 1, 1, 1]);
  const params = [up2, up1, head, ...[e1, e2, bott, d2, d1].flatMap((b) => [b.w, b.g, b.b])];
  const x = rand([1, 1, size, size, size]);
  const y = x.gt(0.5).cast('float32');
  const times: number[] = [];
  for (let step = 0; step < steps + 2; step++) {
    const t0 = performance.now();
    tidy(() => {
      // The forward pass in its own scope: only the loss comes out, so libtorch can free
      // each saved activation as soon as backward has used it (as the C++ reference does).
      const loss = tidy(() => {
        const s1 = run(e1, x);
        const s2 = run(e2, maxPool3d(s1, 2));
        let h = run(bott, maxPool3d(s2, 2));
        h = run(d2, cat([convTranspose3d(h, up2, null, { stride: 2 }), s2], 1));
        h = run(d1, cat([convTranspose3d(h, up1, null, { stride: 2 }), s1], 1));
        return bceWithLogits(conv3d(h, head), y);
      });
      loss.backward();
      noGrad(() => {
        for (const p of params) {
          const grad = p.grad;
          if (!grad) throw new Error('unet bench: a parameter has no gradient after backward');
          p.add_(grad, -0.01);
          p.zeroGrad();
        }
      });
    });
    if (step >= 2) times.push(performance.now() - t0);
  }
  for (const t of [...params, x, y, ...[e1, e2, bott, d2, d1].flatMap((b) => [b.rm, b.rv])]) t.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
