// Loss forward + backward time at [2, 5, 80, 80, 80] for every sigmoid loss.
import { losses, tidy, rand } from '../src/index.js';

export function lossStepMs(name: string, shape: number[], reps: number): number {
  const loss = losses.create(name);
  const logits = rand(shape).sub(0.5).mul(8);
  const target = rand(shape).lt(0.02).cast('float32');
  logits.requiresGrad = true;
  const run = () =>
    tidy(() => {
      loss(logits, target).backward();
      logits.zeroGrad();
    });
  run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  logits.dispose();
  target.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
