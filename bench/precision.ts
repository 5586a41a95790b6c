// fp32 against bf16, and both against PyTorch 2.x's CPU modes measured in the same run on the same
// machine: conv3d 32→32 at 64³, training steps at 80³ batch 2 (proposed, U-Net, V-Net at default
// widths), and sliding-window inference at the paper's setting (128×128×300, 80³ window, stride 20).
import { engineInfo, networks, inference, tidy, rand, cpuPrecision, type Precision } from '../src/index.js';
import { convGflops } from './conv.js';
import { networkStep, torchConvGflops, torchPython, torchStepMs, torchWindowMs, TORCH_HOWTO } from './children.js';

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

function convRows(py: string | null, quick: boolean): void {
  const reps = quick ? 2 : 5;
  const ours = { fp32: convGflops(64, 32, 'onednn', reps), bf16: convGflops(64, 32, 'onednn', reps, 'bf16') };
  console.log('\nconv3d 32→32, 3³, 64³, batch 1, forward + backward (GFLOP/s):');
  console.log(`  comboseg fp32 ${ours.fp32.toFixed(0)}, bf16 ${ours.bf16.toFixed(0)} (${ratio(ours.bf16, ours.fp32)})`);
  if (!py) return;
  const t = torchConvGflops(py, 32, 64);
  const best = Math.max(...Object.values(t));
  console.log(
    `  PyTorch ${Object.entries(t)
      .map(([m, v]) => `${m} ${v}`)
      .join(', ')}`,
  );
  console.log(`  comboseg bf16 / PyTorch's best ${ratio(ours.bf16, best)}  [target ≥ 1 on AMX-BF16]`);
}

function stepRows(py: string | null, quick: boolean): void {
  const steps = quick ? 1 : 2;
  console.log('\ntraining step, 80³, batch 2, default widths, Combo + Adadelta (median ms; peak RSS MiB):');
  for (const name of ['proposed', 'unet3d', 'vnet']) {
    const r = (p: Precision) => networkStep(name, 2, 'default', 80, steps, p);
    const [f, b] = [r('fp32'), r('bf16')];
    let line =
      `  ${name.padEnd(9)} comboseg fp32 ${f.stepMs.toFixed(0)} (${f.peakMiB.toFixed(0)}), ` +
      `bf16 ${b.stepMs.toFixed(0)} (${b.peakMiB.toFixed(0)}): ${ratio(f.stepMs, b.stepMs)} faster, ` +
      `memory ${(b.peakMiB / f.peakMiB).toFixed(2)}× [≤ 0.7]`;
    if (py) {
      const modes = ['fp32', 'bf16', 'bf16cl'].map((m) => [m, torchStepMs(py, name, 80, 2, m, steps)] as const);
      const best = Math.min(...modes.map(([, ms]) => ms));
      const target = name === 'proposed' ? 0.6 : 0.8;
      line +=
        `; PyTorch ${modes.map(([m, ms]) => `${m} ${ms.toFixed(0)}`).join(', ')}; ` +
        `comboseg bf16 / PyTorch's best ${(b.stepMs / best).toFixed(2)}  [target ≤ ${target} on AMX-BF16]`;
    }
    console.log(line);
  }
}

/** Seconds of the sliding window over 128×128×300 (80³ window, stride 20: 192 windows) in `precision`. */
function slidingWindowSeconds(precision: Precision, quick: boolean): { s: number; windows: number } {
  const net = networks.create('proposed', { inChannels: 1, outChannels: 5 }).eval();
  net.precision = precision;
  // --quick runs the first 80-voxel slab of the volume (16 windows) and scales its time by the count.
  const volume: [number, number, number] = [300, 128, 128];
  const all = volume.map((l) => inference.windowStarts(l, 80, 20).length).reduce((a, b) => a * b, 1);
  const depth = quick ? 80 : 300;
  const image = rand([1, 1, depth, 128, 128]);
  const count = volume
    .map((l, i) => inference.windowStarts(i === 0 ? depth : l, 80, 20).length)
    .reduce((a, b) => a * b, 1);
  const t0 = performance.now();
  tidy(() =>
    inference
      .slidingWindow((x) => net.run(x), image, {
        window: [80, 80, 80],
        stride: [20, 20, 20],
        aggregation: 'max',
        perWindowMinMax: true,
      })
      .dispose(),
  );
  const s = ((performance.now() - t0) / 1000) * (all / count);
  image.dispose();
  net.dispose();
  return { s, windows: all };
}

function windowRows(py: string | null, quick: boolean): void {
  const f = slidingWindowSeconds('fp32', quick);
  const b = slidingWindowSeconds('bf16', quick);
  const how = quick ? ' (from the first 16 windows, scaled)' : '';
  console.log(`\nsliding window, proposed network, 128×128×300, 80³ window, stride 20 (${f.windows} windows)${how}:`);
  let line =
    `  comboseg fp32 ${f.s.toFixed(0)} s, bf16 ${b.s.toFixed(0)} s: ` +
    `${ratio(f.s, b.s)} faster  [target ≥ 3× on AMX-BF16]`;
  if (py) {
    const reps = quick ? 2 : 4;
    const modes = ['fp32', 'bf16', 'bf16cl'].map((m) => {
      const s = (torchWindowMs(py, 'proposed', m, reps) * f.windows) / 1000;
      return `${m} ${s.toFixed(0)} s`;
    });
    line += `; PyTorch (per-window time × ${f.windows}) ${modes.join(', ')}`;
  }
  console.log(line);
}

export function precisionBench(quick: boolean): void {
  const cpu = cpuPrecision();
  const info = engineInfo();
  console.log(
    `\nprecision: oneDNN ISA ${info.onednn.isa}; default on this CPU ${cpu.precision} (${cpu.reason}); ` +
      `bf16 convolutions on ${info.bf16ConvPath}`,
  );
  const py = torchPython();
  if (!py) console.log(`  PyTorch rows skipped: ${TORCH_HOWTO}`);
  convRows(py, quick);
  stepRows(py, quick);
  windowRows(py, quick);
}
