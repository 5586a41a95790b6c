// One network configuration, timed in its own process so that its peak memory
// (max RSS) is its own: `node --import tsx bench/network-step.ts NAME BATCH WIDTH SIZE STEPS [PRECISION]`
// (PRECISION fp32 | bf16, default fp32). Prints one JSON line: median step ms, convolution ms
// within it, peak RSS, precision.
import {
  networks,
  losses,
  training,
  tidy,
  noGrad,
  rand,
  conv3d,
  convTranspose3d,
  nn,
  type Tensor,
  type Precision,
} from '../src/index.js';

// Trailing arguments may be missing: type them so, and default the optional ones.
const args: (string | undefined)[] = process.argv.slice(2);
const [name, batchArg, width, sizeArg, stepsArg, precisionArg = 'fp32'] = args;
if (name === undefined) throw new Error('usage: network-step.ts NAME BATCH WIDTH SIZE STEPS [fp32|bf16]');
if (precisionArg !== 'fp32' && precisionArg !== 'bf16')
  throw new Error(`precision must be fp32 or bf16, got ${precisionArg}`);
const precision: Precision = precisionArg;
const batch = Number(batchArg),
  size = Number(sizeArg ?? 64),
  steps = Number(stepsArg ?? 3);
const SMALL: Record<string, Record<string, unknown>> = {
  proposed: { channels: [8, 16, 32, 64, 64] },
  unet3d: { channels: [8, 16, 32, 64] },
  vnet: { channels: [4, 8, 16, 32, 64] },
  segnet3d: { channels: [8, 16, 32, 64] },
};
const baseRss = process.memoryUsage().rss;
const net = networks.create(name, { inChannels: 1, outChannels: 5, ...(width === 'small' ? SMALL[name] : {}) });
net.precision = precision;
const loss = losses.create('combo');
const opt = new training.Adadelta(net.parameters());
const x = rand([batch, 1, size, size, size]);
const t = rand([batch, 5, size, size, size]).lt(0.05).cast('float32');

// The forward pass in its own scope: only the loss comes out, so libtorch frees
// each saved activation as soon as backward has used it.
const step = () =>
  tidy(() => {
    tidy(() => loss(net.run(x), t)).backward();
    opt.step();
    opt.zeroGrad();
  });
step(); // warm-up
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  step();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const stepMs = times[Math.floor(times.length / 2)];
const peakMiB = process.resourceUsage().maxRSS / 1024;

// Convolution time: replay every convolution of one forward pass, forward and
// backward, on its own with the same shapes, and add up.
const seen: { kind: 'conv' | 'transposed'; x: number[]; layer: nn.Conv3d | nn.ConvTranspose3d }[] = [];
nn.observeConvolutions((kind, input, layer) => seen.push({ kind, x: input.shape, layer }));
tidy(() =>
  noGrad(() => {
    net.forward(x);
  }),
);
nn.observeConvolutions(null);
let convMs = 0;
seen.forEach((c, k) => {
  tidy(() => {
    const input = k > 0 && precision === 'bf16' ? rand(c.x).cast('bfloat16') : rand(c.x);
    const w = c.layer.weight.detach();
    const b = c.layer.bias?.detach() ?? null;
    input.requiresGrad = k > 0; // the network input needs no gradient
    for (const p of [w, b]) if (p) p.requiresGrad = true;
    const conv = (): Tensor =>
      c.kind === 'conv'
        ? conv3d(input, w, b, { stride: c.layer.stride, padding: c.layer.padding, precision })
        : convTranspose3d(input, w, b, { stride: c.layer.stride, padding: c.layer.padding, precision });
    const g = noGrad(() => rand(conv().shape).cast(precision === 'bf16' ? 'bfloat16' : 'float32'));
    const run = () => tidy(() => conv().backward(g));
    run();
    const t0 = performance.now();
    run();
    convMs += performance.now() - t0;
  });
});
console.log(
  JSON.stringify({
    name,
    batch,
    width,
    size,
    params: net.numParameters(),
    stepMs,
    convMs,
    peakMiB,
    precision,
    baseMiB: baseRss / 2 ** 20,
  }),
);
