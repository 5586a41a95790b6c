// One rank of the data-parallel bench (bench/data-parallel.ts): the demo's network and step (proposed,
// widths 8-16-32-64, 48 × 48 × 112 volumes, Combo with global sums, Adadelta), the global batch of 2
// split over the ranks. `node --import tsx bench/ddp-rank.ts RANK WORLD PORT STEPS PRECISION [SYNC]`; prints one
// JSON line from rank 0 (SYNC: sync-bn for synchronised batch norm): median step ms and, within it,
// the gradient all-reduce's ms.
import { networks, losses, training, tidy, rand, type Precision } from '../src/index.js';
import {
  initProcessGroup,
  destroyProcessGroup,
  broadcastModule,
  GradientReducer,
  syncBatchNorms,
} from '../src/training/distributed.js';

const [rank, world, port, steps] = process.argv.slice(2, 6).map(Number);
const precision = process.argv[6] as Precision;
const syncBn = process.argv[7] === 'sync-bn';
if (world > 1) initProcessGroup({ rank, worldSize: world, host: '127.0.0.1', port, timeoutMs: 120000 });
const net = networks.create('proposed', { inChannels: 1, outChannels: 5, channels: [8, 16, 32, 64], seed: 1 });
net.precision = precision;
if (syncBn) syncBatchNorms(net);
broadcastModule(net);
const reducer = new GradientReducer(net.parameters());
const loss = losses.create('combo', { alpha: 0.5, beta: 0.4, dice: 'per-class-mean' });
const opt = new training.Adadelta(net.parameters(), { lr: 1, rho: 0.95, eps: 1e-8 });
const per = 2 / world;
const x = rand([per, 1, 48, 48, 112]);
const t = rand([per, 5, 48, 48, 112]).lt(0.05).cast('float32');

const step = (): { total: number; reduce: number } => {
  const t0 = performance.now();
  let reduce = 0;
  tidy(() => {
    tidy(() => loss(net.run(x), t)).backward();
    const r0 = performance.now();
    reducer.reduce();
    reduce = performance.now() - r0;
    opt.step();
    opt.zeroGrad();
  });
  return { total: performance.now() - t0, reduce };
};
step(); // warm-up
const runs = Array.from({ length: steps }, step);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
if (rank === 0) {
  const stepMs = median(runs.map((r) => r.total));
  const reduceMs = median(runs.map((r) => r.reduce));
  console.log(JSON.stringify({ stepMs, reduceMs, params: net.numParameters() }));
}
if (world > 1) destroyProcessGroup();
