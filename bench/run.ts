// npm run bench: speed figures, measured in one run, printed as ratios and rates.
// Not a test: nothing here fails a build. Run on the 2-core reference machine.
import { execFileSync } from 'node:child_process';
import { engineInfo } from '../src/index.js';
import { convGflops } from './conv.js';
import { unetStepMs } from './unet.js';
// @ts-expect-error plain ESM helper without types
import { buildReference } from './build-ref.mjs';

const quick = process.argv.includes('--quick');
const info = engineInfo();
console.log(`engine: libtorch ${info.torchVersion}, ${info.threads} threads, oneDNN ${info.mkldnn}, tcmalloc ${info.tcmalloc}`);

console.log('\nconv3d 3×3×3, batch 1, 16 → 16 channels, forward + backward:');
for (const size of [32, 64]) {
  const reps = quick ? 3 : size === 32 ? 20 : 6;
  const fast = convGflops(size, 16, 'onednn', reps);
  const stock = convGflops(size, 16, 'stock', reps);
  console.log(`  ${size}³: oneDNN path ${fast.toFixed(0)} GFLOP/s; libtorch's own choice ${stock.toFixed(0)} GFLOP/s (${(fast / stock).toFixed(2)}×)  [target ≥ 200]`);
}

const steps = quick ? 3 : 10;
const rounds = quick ? 1 : 3;
console.log(`\nsmall 3-D U-Net training step (1→16→32→32, 64³, batch 1, BN, BCE, SGD), median of ${steps} steps, ${rounds} interleaved rounds:`);
const ref = buildReference() as string;
const cpp: number[] = [];
const ts: number[] = [];
for (let r = 0; r < rounds; r++) {
  // The child inherits this process's environment: same threads, allocator and BLAS settings.
  cpp.push(Number(execFileSync(ref, [String(steps), '64', String(info.threads)], { encoding: 'utf8' }).trim()));
  ts.push(unetStepMs(steps, 64));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`  C++ (libtorch direct): ${cpp.map((v) => v.toFixed(1)).join(' / ')} ms; TypeScript: ${ts.map((v) => v.toFixed(1)).join(' / ')} ms`);
console.log(`  ratio TypeScript / C++ (medians) = ${(median(ts) / median(cpp)).toFixed(3)}  [target ≤ 1.10]`);
