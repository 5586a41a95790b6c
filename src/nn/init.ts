// Weight initialisation from a seeded JS generator (reproducible anywhere).
import { tensor, type Tensor } from '../engine/tensor.js';
import type { Rng } from '../util/random.js';

/**
 * Glorot (Xavier) uniform: U(−l, l), l = √(6 / (fan_in + fan_out)), with fans
 * counted as Keras does for convolutions (channels × receptive field).
 * Works for [Cout, Cin, k...] and transposed [Cin, Cout, k...] alike (the sum is symmetric).
 */
export function glorotUniform(shape: number[], rng: Rng): Tensor {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(6 / ((shape[0] + shape[1]) * receptive));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform(-limit, limit);
  return tensor(data, shape, { copy: false });
}

export function constant(shape: number[], value: number): Tensor {
  return tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape, { copy: false });
}
