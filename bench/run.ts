// npm run bench: speed figures, measured in one run, printed as ratios and rates.
// Not a test: nothing here fails a build. Run on the 2-core reference machine.
import { execFileSync } from 'node:child_process';
import { engineInfo, losses } from '../src/index.js';
import { convGflops } from './conv.js';
import { unetStepMs } from './unet.js';
import { buildReference } from './build-ref.mjs';
import { lossStepMs } from './losses.js';
import { dataBench } from './data.js';
import { inferenceBench } from './inference.js';
import { networkStep } from './children.js';
import { precisionBench } from './precision.js';
import { dataParallelBench } from './data-parallel.js';
import { pipelineBench } from './pipeline.js';
import { onnxWebBench } from './onnx-web.js';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv.indexOf('--only');
const onlyValue: string | undefined = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
if (onlyArg > 0 && onlyValue === undefined) throw new Error('--only needs a comma-separated list of benches');
const only = onlyValue?.split(',') ?? [
  'engine',
  'networks',
  'losses',
  'data',
  'inference',
  'precision',
  'data-parallel',
];
const info = engineInfo();
console.log(
  `engine: libtorch ${info.torchVersion}, ${info.threads} threads, oneDNN ${info.mkldnn}, tcmalloc ${info.tcmalloc}`,
);

if (only.includes('engine')) engineBench();
if (only.includes('networks')) networksBench();
if (only.includes('losses')) lossesBench();
if (only.includes('data')) await dataBench(quick);
if (only.includes('inference')) inferenceBench(quick);
if (only.includes('precision')) precisionBench(quick);
if (only.includes('data-parallel')) await dataParallelBench(quick);
if (only.includes('pipeline')) await pipelineBench(quick);
if (only.includes('onnx-web')) await onnxWebBench();

function engineBench(): void {
  console.log('\nconv3d 3×3×3, batch 1, 16 → 16 channels, forward + backward:');
  for (const size of [32, 64]) {
    const reps = quick ? 3 : size === 32 ? 20 : 6;
    const fast = convGflops(size, 16, 'onednn', reps);
    const stock = convGflops(size, 16, 'stock', reps);
    console.log(
      `  ${size}³: oneDNN path ${fast.toFixed(0)} GFLOP/s; ` +
        `libtorch's own choice ${stock.toFixed(0)} GFLOP/s (${(fast / stock).toFixed(2)}×)  [target ≥ 200]`,
    );
  }

  const steps = quick ? 3 : 10;
  const rounds = quick ? 1 : 3;
  console.log(
    `\nsmall 3-D U-Net training step (1→16→32→32, 64³, batch 1, BN, BCE, SGD), ` +
      `median of ${steps} steps, ${rounds} interleaved rounds:`,
  );
  const ref = buildReference();
  const cpp: number[] = [];
  const ts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // The child inherits this process's environment: same threads, allocator and BLAS settings.
    cpp.push(Number(execFileSync(ref, [String(steps), '64', String(info.threads)], { encoding: 'utf8' }).trim()));
    ts.push(unetStepMs(steps, 64));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `  C++ (libtorch direct): ${cpp.map((v) => v.toFixed(1)).join(' / ')} ms; ` +
      `TypeScript: ${ts.map((v) => v.toFixed(1)).join(' / ')} ms`,
  );
  console.log(`  ratio TypeScript / C++ (medians) = ${(median(ts) / median(cpp)).toFixed(3)}  [target ≤ 1.10]`);
}

function networksBench(): void {
  console.log('\ntraining step per network (forward, Combo loss, backward, Adadelta update), 64³, 5 output channels:');
  console.log(
    '  network    width    batch  params       step ms  conv share  peak RSS (MiB, of which libtorch+node at start)',
  );
  for (const name of ['proposed', 'unet3d', 'vnet', 'segnet3d']) {
    for (const width of ['default', 'small']) {
      for (const batch of [1, 2]) {
        const r = networkStep(name, batch, width, 64, quick || width === 'default' ? 2 : 3);
        const convShare = (100 * Math.min(1, r.convMs / r.stepMs)).toFixed(0);
        console.log(
          `  ${name.padEnd(10)} ${width.padEnd(8)} ${String(batch).padEnd(6)} ${String(r.params).padEnd(12)} ` +
            `${r.stepMs.toFixed(0).padStart(7)}  ${convShare.padStart(8)} %  ` +
            `${r.peakMiB.toFixed(0).padStart(6)} (${r.baseMiB.toFixed(0)})`,
        );
      }
    }
  }
  console.log(
    '  small widths: proposed [8,16,32,64,64], unet3d [8,16,32,64], vnet [4,8,16,32,64], segnet3d [8,16,32,64]',
  );
  console.log(
    '  conv share: every convolution of the step replayed alone (forward + backward) with the same shapes, ' +
      'summed, over the step time',
  );
}

function lossesBench(): void {
  const shape = [2, 5, 80, 80, 80];
  const step = networkStep('proposed', 2, 'default', 80, quick ? 1 : 2);
  console.log(
    `\nloss forward + backward at [${shape}] against one training step of 'proposed' ` +
      `(default widths, [2, 1, 80, 80, 80] → 5 channels): ${step.stepMs.toFixed(0)} ms`,
  );
  for (const name of losses.LOSS_NAMES.filter((n) => !losses.SOFTMAX_LOSSES.includes(n))) {
    const ms = lossStepMs(name, shape, quick ? 2 : 5);
    console.log(
      `  ${name.padEnd(9)} ${ms.toFixed(1).padStart(7)} ms  = ${((100 * ms) / step.stepMs).toFixed(2)} % of the step`,
    );
  }
}
