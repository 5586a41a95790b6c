// Sliding-window inference time for the paper's 80³ window (stride 20 and 40) and
// the whole-volume mode on a 128×128×300 volume with the proposed network, each
// against its FLOP floor: the network's convolution FLOPs over all windows divided
// by the forward conv3d rate measured in the same run.
import { networks, nn, inference, tidy, noGrad, rand, conv3d, type Tensor } from '../src/index.js';

function convForwardGflops(): number {
  return tidy(() =>
    noGrad(() => {
      const x = rand([1, 32, 80, 80, 80]),
        w = rand([32, 32, 3, 3, 3]);
      conv3d(x, w, null, { padding: 1 });
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) conv3d(x, w, null, { padding: 1 });
      return (3 * 2 * 27 * 32 * 32 * 80 ** 3) / ((performance.now() - t0) / 1000) / 1e9;
    }),
  );
}

/** Convolution FLOPs of one forward pass of `net` on `shape`. */
function convFlops(net: networks.Network, shape: number[]): number {
  let flops = 0;
  nn.observeConvolutions((kind, x, layer) => {
    const k = layer.weight.shape.slice(2).reduce((a, b) => a * b, 1);
    const [cout, cin] =
      kind === 'conv' ? [layer.weight.shape[0], layer.weight.shape[1]] : [layer.weight.shape[1], layer.weight.shape[0]];
    // Each input (transposed) or output (convolution) voxel meets every kernel tap once.
    const inVoxels = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const perTap = kind === 'conv' ? inVoxels / layer.stride.reduce((a, b) => a * b, 1) : inVoxels;
    flops += 2 * k * cin * cout * x.shape[0] * perTap;
  });
  tidy(() =>
    noGrad(() => {
      net.forward(rand(shape));
    }),
  );
  nn.observeConvolutions(null);
  return flops;
}

export function inferenceBench(quick: boolean): void {
  const net = networks.create('proposed', { inChannels: 1, outChannels: 5 }).eval();
  const rate = convForwardGflops();
  const volume: [number, number, number] = quick ? [96, 128, 128] : [300, 128, 128]; // [D, H, W]
  console.log(
    `\ninference, proposed network (default widths), volume ${volume[2]}×${volume[1]}×${volume[0]}; ` +
      `conv3d forward rate ${rate.toFixed(0)} GFLOP/s (32→32 at 80³):`,
  );
  const perWindow = convFlops(net, [1, 1, 80, 80, 80]);
  const image: Tensor = rand([1, 1, ...volume]);
  for (const stride of quick ? [40] : [20, 40]) {
    const windows = volume.map((l) => inference.windowStarts(l, 80, stride).length).reduce((a, b) => a * b, 1);
    const t0 = performance.now();
    inference
      .slidingWindow((x) => net.forward(x), image, {
        window: [80, 80, 80],
        stride: [stride, stride, stride],
        aggregation: 'max',
        perWindowMinMax: true,
      })
      .dispose();
    const s = (performance.now() - t0) / 1000;
    const floor = (windows * perWindow) / 1e9 / rate;
    console.log(
      `  80³ window, stride ${stride}: ${windows} windows in ${s.toFixed(1)} s; ` +
        `FLOP floor ${floor.toFixed(1)} s; ratio ${(s / floor).toFixed(2)}  [target ≤ 1.2]`,
    );
  }
  const padded = volume.map((l) => Math.ceil(l / net.divisor) * net.divisor);
  const wholeFlops = convFlops(net, [1, 1, ...padded]);
  const t0 = performance.now();
  inference.wholeVolume((x) => net.forward(x), image, net.divisor).dispose();
  const s = (performance.now() - t0) / 1000;
  const floor = wholeFlops / 1e9 / rate;
  console.log(
    `  whole volume (one pass over ${padded.join('×')}): ${s.toFixed(1)} s; ` +
      `FLOP floor ${floor.toFixed(1)} s; ratio ${(s / floor).toFixed(2)}  [target ≤ 1.2]`,
  );
  image.dispose();
  net.dispose();
}
