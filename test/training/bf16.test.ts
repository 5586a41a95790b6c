// bf16 mixed precision end to end on a toy task (a bright ball in noise): a small network trains
// in bf16 and converges, its weights, optimiser state and batch-norm statistics stay float32, and
// one model's predictions in bf16 and fp32 agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networks, losses, training, tensor, tidy, noGrad, withPrecision, type Tensor } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';

const S = 16;

/** One [1, 1, S, S, S] image (a ball of radius 3–5, value 1, in noise of σ 0.3) and its mask. */
function ball(rng: Rng): { image: Float32Array; mask: Float32Array } {
  const image = new Float32Array(S ** 3),
    mask = new Float32Array(S ** 3);
  const c = [0, 1, 2].map(() => rng.uniform(5, S - 5));
  const r = rng.uniform(3, 5);
  for (let z = 0; z < S; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const i = (z * S + y) * S + x;
        const inside = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r;
        mask[i] = inside ? 1 : 0;
        // Box-Muller noise from the test's own generator.
        const n = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
        image[i] = (inside ? 1 : 0) + 0.3 * n;
      }
  return { image, mask };
}

function batch(rng: Rng, n: number): { x: Tensor; t: Tensor } {
  const cases = Array.from({ length: n }, () => ball(rng));
  const cat = (k: 'image' | 'mask') => {
    const out = new Float32Array(n * S ** 3);
    cases.forEach((c, i) => out.set(c[k], i * S ** 3));
    return tensor(out, [n, 1, S, S, S]);
  };
  return { x: cat('image'), t: cat('mask') };
}

function dice(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  let inter = 0,
    sa = 0,
    sb = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] && b[i] ? 1 : 0;
    sa += a[i] ? 1 : 0;
    sb += b[i] ? 1 : 0;
  }
  return (2 * inter) / Math.max(1, sa + sb);
}

/** Foreground mask of the network's prediction (sigmoid > 0.5, i.e. logit > 0). */
const predictMask = (net: networks.Network, x: Tensor): Float32Array =>
  tidy(() => noGrad(() => net.run(x).gt(0).cast('float32').toFloat32Array()));

const net = networks.create('proposed', { inChannels: 1, outChannels: 1, channels: [8, 16, 16], seed: 3 });
net.precision = 'bf16';
const losses_: number[] = [];

test('a small network trains in bf16 on a toy task and converges', () => {
  const loss = losses.create('combo');
  const opt = new training.Adam(net.parameters(), { lr: 0.01 });
  const rng = new Rng(5);
  for (let step = 0; step < 150; step++) {
    const value = tidy(() => {
      const { x, t } = batch(rng, 2);
      const l = tidy(() => loss(net.run(x), t));
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l.item();
    });
    losses_.push(value);
  }
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const first = mean(losses_.slice(0, 5)),
    last = mean(losses_.slice(-5));
  // Combo (α 0.5) runs from about 0 at the start towards −0.5 when prediction and truth agree.
  assert.ok(last < first - 0.25, `bf16 training: Combo loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  net.eval();
  const test = tidy(() => {
    const { x, t } = batch(new Rng(99), 2);
    return { pred: predictMask(net, x), truth: t.toFloat32Array() };
  });
  const d = dice(test.pred, test.truth);
  assert.ok(d > 0.8, `bf16-trained network: Dice ${d.toFixed(3)} on unseen balls`);
});

test('after bf16 training, weights and batch-norm statistics are float32', () => {
  for (const [name, t] of Object.entries(net.stateDict())) assert.equal(t.dtype, 'float32', name);
  const stats = Object.entries(net.stateDict()).filter(([n]) => n.endsWith('running_var'));
  assert.ok(stats.length > 0);
  for (const [name, t] of stats) {
    const v = t.toFloat32Array();
    assert.ok(
      v.every((s) => Number.isFinite(s) && s > 0),
      `${name}: running variance must be finite and positive`,
    );
  }
});

test('one model predicts the same in bf16 and fp32 (Dice between the label maps ≥ 0.98)', () => {
  const { x } = batch(new Rng(123), 3);
  net.precision = 'bf16';
  const a = predictMask(net, x);
  net.precision = 'fp32';
  const b = predictMask(net, x);
  x.dispose();
  const d = dice(a, b);
  assert.ok(d >= 0.98, `bf16 vs fp32 predictions: Dice ${d.toFixed(4)}`);
  // And bf16 really ran: the network's own output in a bf16 scope is bfloat16 (run() casts it back).
  const raw = tidy(
    () => withPrecision('bf16', () => net.forward(tensor(new Float32Array(S ** 3), [1, 1, S, S, S]))).dtype,
  );
  assert.equal(raw, 'bfloat16');
  const logits = tidy(() => {
    net.precision = 'bf16';
    const y = net.run(tensor(new Float32Array(S ** 3), [1, 1, S, S, S]));
    return y.dtype;
  });
  assert.equal(logits, 'float32', 'run() returns float32 logits in bf16');
});

test.after(() => net.dispose());
