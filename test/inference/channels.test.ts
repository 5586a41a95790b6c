// Sliding-window and whole-volume inference on images of several channels: per-window
// (per-volume) min–max and border padding treat each channel on its own, flip TTA included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../../src/engine/tensor.js';
import { tidy } from '../../src/engine/scope.js';
import { slidingWindow, wholeVolume } from '../../src/inference/sliding-window.js';
import { assertClose } from '../helpers.js';

const [D, H, W] = [4, 6, 5];
const N = D * H * W;
/** Channel 0 in [0, 59], channel 1 in [-5000, -4410]: a joint min–max would squash channel 0 to ~1. */
const input = Float32Array.from({ length: 2 * N }, (_, i) => (i < N ? i : -5000 + 5 * (i - N) * 2));
const minMax = (xs: Float32Array) => {
  const lo = Math.min(...xs),
    hi = Math.max(...xs);
  return xs.map((x) => (x - lo) / (hi - lo));
};
const expected = Float32Array.from([...minMax(input.slice(0, N)), ...minMax(input.slice(N))]);
const identity = (x: Tensor) => x.mul(1);

test('per-window min–max is per channel (sliding window, with and without flip TTA)', () => {
  for (const flipTta of [false, true]) {
    const out = tidy(() =>
      slidingWindow(identity, tensor(input, [1, 2, D, H, W]), {
        window: [D, H, W],
        stride: [D, H, W],
        aggregation: 'max',
        perWindowMinMax: true,
        flipTta,
        activation: identity,
      }).toFloat32Array(),
    );
    assertClose(out, expected, 1e-5, `flipTta ${flipTta}`);
  }
});

test('a volume smaller than the window or the divisor is padded with each channel’s own minimum', () => {
  const seen: number[][] = [];
  const spy = (x: Tensor) => {
    const v = x.toFloat32Array();
    const n = v.length / 2;
    seen.push([Math.min(...v.slice(0, n)), Math.min(...v.slice(n))]);
    return x.mul(1);
  };
  const out = tidy(() =>
    slidingWindow(spy, tensor(input, [1, 2, D, H, W]), {
      window: [8, 8, 8],
      stride: [8, 8, 8],
      aggregation: 'mean',
      activation: identity,
    }).toFloat32Array(),
  );
  assertClose(out, input, 1e-5, 'cropped back to the volume');
  assert.deepEqual(seen, [[0, -5000]], 'padding takes each channel’s minimum');
  const whole = tidy(() =>
    wholeVolume(spy, tensor(input, [1, 2, D, H, W]), 8, {
      perVolumeMinMax: true,
      activation: identity,
    }).toFloat32Array(),
  );
  assertClose(whole, expected, 1e-5, 'whole volume, per-channel min–max');
});
