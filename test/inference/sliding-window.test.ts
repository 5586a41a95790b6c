// Sliding-window inference on stub networks whose outputs are known exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inference, tensor, tidy, full, rand, networks, noGrad, liveTensors, type Tensor } from '../../src/index.js';
import { assertClose } from '../helpers.js';

test('window starts cover the axis and the last one reaches the border', () => {
  assert.deepEqual(inference.windowStarts(100, 80, 20), [0, 20]);
  assert.deepEqual(inference.windowStarts(110, 80, 20), [0, 20, 30]);
  assert.deepEqual(inference.windowStarts(80, 80, 20), [0]);
  assert.deepEqual(inference.windowStarts(50, 80, 20), [0]);
  assert.deepEqual(inference.windowStarts(10, 4, 3), [0, 3, 6]);
});

/** A stub network: the k-th window it sees (counting from 1) gets probability k/100 at every voxel. */
function countingNet() {
  let calls = 0;
  const net = (x: Tensor) => {
    const B = x.shape[0],
      n = x.size / x.shape[0] / x.shape[1];
    const out = new Float32Array(B * n);
    for (let b = 0; b < B; b++) {
      const p = ++calls / 100;
      out.fill(Math.log(p / (1 - p)), b * n, (b + 1) * n);
    }
    return tensor(out, [B, 1, ...x.shape.slice(2)]);
  };
  return { net };
}

test('max / mean / gaussian give the exact expected maps on a stub network', () =>
  tidy(() => {
    // 1-D along W: length 10, window 4, stride 3 → windows at 0, 3, 6 with probabilities 0.01, 0.02, 0.03.
    const img = full([1, 1, 4, 4, 10], 0.5);
    const opts = { window: [4, 4, 4] as [number, number, number], stride: [4, 4, 3] as [number, number, number] };
    const cover = (x: number) => [0, 3, 6].map((s, k) => (x >= s && x < s + 4 ? k + 1 : 0)).filter((k) => k);
    const maxMap = inference
      .slidingWindow(countingNet().net, img, { ...opts, aggregation: 'max' })
      .toArray()
      .slice(0, 10);
    assertClose(
      maxMap,
      Array.from({ length: 10 }, (_, x) => Math.max(...cover(x)) / 100),
      1e-6,
      'max',
    );
    const meanMap = inference
      .slidingWindow(countingNet().net, img, { ...opts, aggregation: 'mean', batch: 2 })
      .toArray()
      .slice(0, 10);
    assertClose(
      meanMap,
      Array.from({ length: 10 }, (_, x) => cover(x).reduce((a, b) => a + b, 0) / cover(x).length / 100),
      1e-6,
      'mean',
    );
    const g = inference.gaussianMap([4, 4, 4]);
    const wAt = (xInWindow: number) => g[(1 * 4 + 1) * 4 + xInWindow]; // row z=1, y=1
    const gaussMap = inference.slidingWindow(countingNet().net, img, { ...opts, aggregation: 'gaussian' }).toArray();
    const row = gaussMap.slice((1 * 4 + 1) * 10, (1 * 4 + 1) * 10 + 10);
    const want = Array.from({ length: 10 }, (_, x) => {
      let num = 0,
        den = 0;
      [0, 3, 6].forEach((s, k) => {
        if (x >= s && x < s + 4) {
          num += (wAt(x - s) * (k + 1)) / 100;
          den += wAt(x - s);
        }
      });
      return num / den;
    });
    assertClose(row, want, 1e-6, 'gaussian');
  }));

test('every voxel is covered when sizes do not divide the stride; small volumes are padded and cropped back', () =>
  tidy(() => {
    const net = (x: Tensor) => full([x.shape[0], 2, ...x.shape.slice(2)], 3); // σ(3) everywhere, two classes
    for (const shape of [
      [13, 7, 9],
      [3, 5, 2],
    ]) {
      const img = rand([1, 1, ...shape]);
      const p = inference.slidingWindow(net, img, { window: [4, 4, 4], stride: [3, 2, 3], aggregation: 'mean' });
      assert.deepEqual(p.shape, [1, 2, ...shape]);
      assert.ok(
        p.toArray().every((v) => Math.abs(v - 1 / (1 + Math.exp(-3))) < 1e-6),
        `all voxels covered at [${shape}]`,
      );
    }
  }));

test('sliding window agrees with one whole-volume forward where a single window covers everything', () =>
  tidy(() => {
    const net = networks.create('proposed', { inChannels: 1, outChannels: 2, channels: [4, 8] }).eval();
    const img = rand([1, 1, 8, 8, 8]);
    const f = (x: Tensor) => net.forward(x);
    const sw = inference.slidingWindow(f, img, { window: [8, 8, 8], stride: [4, 4, 4], aggregation: 'max' });
    const whole = inference.wholeVolume(f, img, net.divisor);
    assertClose(sw.toArray(), whole.toArray(), 1e-6);
    // Flip TTA on a flip-equivariant stub is the stub itself.
    const eq = (x: Tensor) => x.mul(2);
    assertClose(
      inference
        .slidingWindow(eq, img, { window: [4, 4, 4], stride: [4, 4, 4], aggregation: 'mean', flipTta: true })
        .toArray(),
      noGrad(() => img.mul(2).sigmoid()).toArray(),
      1e-6,
    );
    net.dispose();
  }));

test('sliding window leaks no tensors', () => {
  const img = rand([1, 1, 9, 9, 9]);
  const before = liveTensors();
  for (const aggregation of ['max', 'mean', 'gaussian'] as const) {
    inference
      .slidingWindow((x) => x.mul(1), img, { window: [4, 4, 4], stride: [3, 3, 3], aggregation, batch: 3 })
      .dispose();
  }
  assert.equal(liveTensors(), before);
  img.dispose();
});
