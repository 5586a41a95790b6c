// The checks scripts/gpu-check.sh runs on a GPU host (bundled to one JavaScript file with the engine,
// networks, losses, optimisers, sampler and inference: no itk-wasm, no web assets). Each check compares
// the device against the CPU on the same weights and data, and prints one line: `ok NAME ...` or
// `FAIL NAME ...`. Then the timing of the proposed network's training step (80³, batch 2, Combo +
// Adadelta), as one `timing {...}` JSON line. Exit status 1 if any check failed.
//   node gpu-check.mjs [--device cuda] [--steps 5] [--size 80]
import { engineInfo } from '../src/engine/runtime.js';
import { manualSeed } from '../src/engine/runtime.js';
import { tidy, keep, dispose } from '../src/engine/scope.js';
import { noGrad } from '../src/engine/autograd.js';
import { to } from '../src/engine/device.js';
import { rand, randn } from '../src/engine/ops/creation.js';
import { conv3d } from '../src/engine/ops/nn.js';
import type { Tensor } from '../src/engine/tensor.js';
import { create as createNetwork, NETWORK_NAMES } from '../src/networks/registry.js';
import { create as createLoss, LOSS_NAMES, lossLayout } from '../src/losses/registry.js';
import { Adadelta, Adam } from '../src/training/optimizers.js';
import { petPhantom } from '../src/data/phantoms/pet.js';
import { PaperSampler } from '../src/data/sampler.js';
import { toBatch } from '../src/data/patch.js';
import { predictVolume } from '../src/inference/predict.js';
import { InferenceSettingsSchema } from '../src/inference/settings.js';
import type { ModelMeta } from '../src/inference/model.js';
import type { Volume } from '../src/data/volume.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const device = arg('device', 'cuda');
const steps = Number(arg('steps', '5'));
const size = Number(arg('size', '80'));
let failed = 0;

function report(name: string, ok: boolean, detail: string): void {
  if (!ok) failed++;
  console.log(`${ok ? 'ok' : 'FAIL'} ${name} ${detail}`);
}

/** Largest |a − b| relative to max(1, |b|): device against CPU. */
function relError(a: Tensor, b: Tensor): number {
  const x = a.toFloat32Array(),
    y = b.toFloat32Array();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  return x.length === y.length ? worst : Infinity;
}

/** conv3d forward and both gradients, device vs CPU (TF32 convolutions allowed: 1e-2). */
function checkConv(): void {
  tidy(() => {
    const x = randn([2, 8, 16, 16, 16]),
      w = randn([8, 8, 3, 3, 3]).mul(0.1);
    const run = (dev: string): Tensor[] => {
      const xd = to(x, dev).detach(),
        wd = to(w, dev).detach();
      xd.requiresGrad = true;
      wd.requiresGrad = true;
      const y = conv3d(xd, wd, null, { padding: 1 });
      y.square().mean().backward();
      const gx = xd.grad,
        gw = wd.grad;
      if (!gx || !gw) throw new Error('conv3d: no gradient');
      return [y, gx, gw].map((t) => to(t, 'cpu'));
    };
    const [c, d] = [run('cpu'), run(device)];
    const errs = c.map((t, i) => relError(d[i], t));
    report(
      'conv3d',
      errs.every((e) => e < 1e-2),
      `forward/grad-input/grad-weight rel. error ${errs.map((e) => e.toExponential(1)).join(' / ')}`,
    );
  });
}

/** Each network (small widths) gives the CPU's logits on the device, from the same weights. */
function checkNetworks(): void {
  const widths: Record<string, unknown> = {
    proposed: { channels: [4, 8, 16] },
    unet3d: { channels: [4, 8] },
    vnet: { channels: [4, 8], encoderConvs: [1, 2], decoderConvs: [1] },
    segnet3d: { channels: [4, 8] },
  };
  for (const name of NETWORK_NAMES) {
    tidy(() => {
      const net = createNetwork(name, { inChannels: 1, outChannels: 3, ...(widths[name] as object) }).eval();
      const x = rand([1, 1, 16, 16, 16]);
      const cpu = noGrad(() => net.forward(x));
      net.to(device);
      const dev = noGrad(() => to(net.forward(to(x, device)), 'cpu'));
      const e = relError(dev, cpu);
      report(
        `network ${name}`,
        e < 1e-2 && net.device.startsWith(device.split(':')[0]),
        `logits rel. error ${e.toExponential(1)} on ${net.device}`,
      );
      net.dispose();
    });
  }
}

/** Each loss: value and gradient on the device equal the CPU's. */
function checkLosses(): void {
  for (const name of LOSS_NAMES) {
    tidy(() => {
      const softmax = lossLayout(name) === 'softmax';
      const logits = randn([2, 3, 8, 8, 8]);
      const target = softmax
        ? rand([2, 8, 8, 8]).mul(3).floor().cast('int64')
        : rand([2, 3, 8, 8, 8]).lt(0.2).cast('float32');
      const run = (dev: string): [Tensor, Tensor] => {
        const l = to(logits, dev).detach();
        l.requiresGrad = true;
        const value = createLoss(name)(l, to(target, dev));
        value.backward();
        const g = l.grad;
        if (!g) throw new Error(`${name}: no gradient`);
        return [to(value, 'cpu'), to(g, 'cpu')];
      };
      const [c, d] = [run('cpu'), run(device)];
      const e = Math.max(relError(d[0], c[0]), relError(d[1], c[1]));
      report(`loss ${name}`, e < 1e-4, `value+gradient rel. error ${e.toExponential(1)}`);
    });
  }
}

/** A few dozen steps on a synthetic PET volume on the device: the loss falls; predict agrees with the CPU. */
function checkTrainingAndPredict(): void {
  manualSeed(0);
  const ph = petPhantom(3, [48, 48, 64]);
  const organs = ph.names.map((_, k) => k + 1);
  let lo = Infinity,
    hi = -Infinity;
  for (const v of ph.image) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const image = ph.image.map((v) => (v - lo) / (hi - lo));
  const sampler = new PaperSampler([{ id: 'pet', image, labels: ph.labels, size: ph.size }], {
    patchSize: [32, 32, 32],
    organs,
    perOrgan: 8,
    background: 4,
    seed: 1,
  });
  const net = createNetwork('proposed', {
    inChannels: 1,
    outChannels: organs.length,
    channels: [8, 16, 32],
    outputBias: -2,
  });
  net.to(device);
  const loss = createLoss('combo', { beta: 0.4 });
  const opt = new Adam(net.parameters(), { lr: 3e-3 });
  const losses: number[] = [];
  for (let epoch = 0; epoch < 6; epoch++) {
    for (let i = 0; i < sampler.epochLength; i += 2) {
      const patches = [sampler.patch(epoch, i), sampler.patch(epoch, i + 1)].filter((p) => p !== null);
      if (!patches.length) continue;
      losses.push(
        tidy(() => {
          const b = toBatch(patches, organs);
          const l = tidy(() => loss(net.forward(to(b.image, device)), to(b.target, device)));
          l.backward();
          opt.step();
          opt.zeroGrad();
          return l.item();
        }),
      );
    }
  }
  const head = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
  const tail = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
  report('training', tail < head, `${losses.length} steps on ${device}: loss ${head.toFixed(4)} → ${tail.toFixed(4)}`);
  net.eval();
  const scan: Volume = {
    data: image,
    size: ph.size,
    spacing: ph.spacing,
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    pixelType: 'float32',
  };
  const meta: ModelMeta = {
    network: net.name,
    options: {},
    labels: { values: organs, names: ph.names },
    normalisation: [{ kind: 'minmax', min: 0, max: 1 }],
    perPatchMinMax: true,
    patchSize: [32, 32, 32],
    inference: InferenceSettingsSchema.parse({ mode: 'window', stride: 16 }),
    epoch: 6,
    validationDice: null,
    layout: 'sigmoid',
  };
  const onDevice = predictVolume(net, meta, scan);
  net.to('cpu');
  const onCpu = predictVolume(net, meta, scan);
  let same = 0;
  for (let i = 0; i < onCpu.labels.data.length; i++) if (onCpu.labels.data[i] === onDevice.labels.data[i]) same++;
  const agree = same / onCpu.labels.data.length;
  report('predict', agree > 0.999, `sliding window on ${device} vs CPU: ${(agree * 100).toFixed(3)} % of voxels agree`);
  opt.dispose();
  net.dispose();
}

/** The proposed network at default widths, size³, batch 2, Combo (β 0.4) + Adadelta: median step time. */
function timeProposedStep(precision: 'fp32' | 'bf16'): void {
  const net = createNetwork('proposed', { inChannels: 1, outChannels: 5 });
  net.to(device);
  net.precision = precision;
  const loss = createLoss('combo', { beta: 0.4 });
  const opt = new Adadelta(net.parameters());
  const x = keep(to(rand([2, 1, size, size, size]), device));
  const t = keep(to(rand([2, 5, size, size, size]).lt(0.05).cast('float32'), device));
  const step = (): number =>
    tidy(() => {
      const l = tidy(() => loss(net.run(x), t));
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l.item(); // item() waits for the device
    });
  step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const timing = { network: 'proposed', size, batch: 2, precision, device, medianMs: median, bestMs: times[0] };
  console.log(`timing ${JSON.stringify(timing)}`);
  dispose([x, t]);
  opt.dispose();
  net.dispose();
}

const info = engineInfo();
console.log(`engine ${JSON.stringify(info)}`);
checkConv();
checkNetworks();
checkLosses();
checkTrainingAndPredict();
timeProposedStep('fp32');
timeProposedStep('bf16');
console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
process.exitCode = failed ? 1 : 0;
