// Inference over plain arrays (what runs exported models, in Node and in the page) against the
// reference, libtorch's predictVolume, with the SAME network behind both: every setting — whole
// volume, sliding windows with max / mean / Gaussian aggregation, a volume smaller than the
// window, per-window min–max, flip TTA, softmax layout, resampling to the model's spacing, two
// channels — gives the same probabilities (float rounding) and the same labels.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '../../src/networks/registry.js';
import type { Network } from '../../src/networks/network.js';
import { tensor } from '../../src/engine/tensor.js';
import { tidy } from '../../src/engine/scope.js';
import type { Vec3, Volume } from '../../src/data/volume.js';
import { ModelMetaSchema, type ModelMeta, type ModelMetaInput } from '../../src/inference/model.js';
import { predictVolume } from '../../src/inference/predict.js';
import { predictPortable, type PortableModel } from '../../src/inference/portable.js';
import { resampleToSize } from '../../src/data/resample.js';
import { resizeVolumeLinear } from '../../src/data/resize-linear.js';

const LABELS = { values: [1, 3], names: ['liver', 'spleen'] };
const nets: Network[] = [];
after(() => nets.forEach((n) => n.dispose()));

/** A tiny untrained network and its metadata; the array runtime calls the same network through tensors. */
function models(meta: Partial<ModelMetaInput>, inChannels = 1): { net: Network; meta: ModelMeta; port: PortableModel } {
  const outChannels = meta.layout === 'softmax' ? 3 : 2;
  const net = create('proposed', { channels: [4, 8], inChannels, outChannels, seed: 3, outputBias: 0.1 });
  net.eval();
  nets.push(net);
  const normalisation = Array.from({ length: inChannels }, (_, c) => ({ kind: 'zscore', mean: 20 + c, std: 10 }));
  const m = ModelMetaSchema.parse({
    network: 'proposed',
    options: net.options,
    labels: LABELS,
    normalisation,
    perPatchMinMax: false,
    patchSize: [8, 8, 8],
    inference: { mode: 'whole' },
    epoch: 1,
    validationDice: null,
    ...meta,
  });
  const forward = (x: Float32Array, shape: number[]) =>
    Promise.resolve(tidy(() => net.forward(tensor(Float32Array.from(x), shape)).toFloat32Array()));
  const port: PortableModel = { meta: m, divisor: net.divisor, fullResolutionWidth: net.fullResolutionWidth, forward };
  return { net, meta: m, port };
}

function scanOf(size: Vec3, spacing: Vec3, channels = 1): Volume {
  const n = size[0] * size[1] * size[2];
  const data = Float32Array.from({ length: n * channels }, (_, i) => ((i * 7) % 41) + (i % size[0] > 8 ? 12 : 0));
  return {
    size,
    spacing,
    origin: [3, -2, 1],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
    pixelType: 'float32',
    ...(channels > 1 ? { channels } : {}),
  };
}

const CASES: [string, Partial<ModelMetaInput>, Vec3, number?][] = [
  ['whole volume, padded to the divisor', { inference: { mode: 'whole' } }, [13, 10, 7]],
  ['windows, max', { inference: { mode: 'window', stride: 4 } }, [16, 12, 9]],
  ['windows, mean', { inference: { mode: 'window', aggregation: 'mean', stride: 3 } }, [16, 12, 9]],
  ['windows, Gaussian', { inference: { mode: 'window', aggregation: 'gaussian', stride: 4 } }, [16, 12, 9]],
  ['a volume smaller than the window', { inference: { mode: 'window' } }, [6, 12, 5]],
  ['per-window min–max', { perPatchMinMax: true, inference: { mode: 'window', stride: 4 } }, [16, 12, 9]],
  ['per-volume min–max', { perPatchMinMax: true, inference: { mode: 'whole' } }, [16, 12, 9]],
  ['flip TTA, 2 windows a pass', { inference: { mode: 'window', flipTta: true, swBatch: 2 } }, [16, 12, 9]],
  ['softmax layout', { layout: 'softmax', inference: { mode: 'window', stride: 4 } }, [16, 12, 9]],
  ['resampled to the model spacing', { spacing: [1.5, 1, 2.5], inference: { mode: 'whole' } }, [16, 12, 9]],
  ['two channels', { inference: { mode: 'window', stride: 4, threshold: 0.55 } }, [16, 12, 9], 2],
];

for (const [what, meta, size, channels] of CASES) {
  test(`array inference = libtorch inference: ${what}`, async () => {
    const { net, meta: m, port } = models(meta, channels ?? 1);
    const scan = scanOf(size, [1.2, 1, 2], channels ?? 1);
    const ref = predictVolume(net, m, scan);
    const got = await predictPortable(port, scan);
    assert.equal(got.mode, ref.mode);
    assert.deepEqual(got.labels.size, ref.labels.size);
    assert.deepEqual(got.labels.origin, ref.labels.origin);
    for (const [k, p] of ref.probabilities.entries()) {
      let worst = 0;
      for (let i = 0; i < p.data.length; i++)
        worst = Math.max(worst, Math.abs(p.data[i] - got.probabilities[k].data[i]));
      assert.ok(worst < 2e-5, `organ ${k}: max |Δp| ${worst}`);
    }
    let differ = 0;
    for (let i = 0; i < ref.labels.data.length; i++) if (ref.labels.data[i] !== got.labels.data[i]) differ++;
    assert.equal(differ, 0, 'identical labels');
    assert.ok(new Set(ref.labels.data).size > 1, 'the case is not trivially all one label');
  });
}

test('trilinear resizing on arrays equals libtorch’s resampling (align_corners = false), up and down', () => {
  const v = scanOf([11, 7, 5], [1, 1, 1]);
  for (const size of [[17, 5, 9] as Vec3, [4, 13, 3] as Vec3]) {
    const ref = resampleToSize(v, size, 'linear');
    const got = resizeVolumeLinear(v, size);
    assert.deepEqual(got.spacing, ref.spacing);
    assert.deepEqual(got.origin, ref.origin);
    let worst = 0;
    for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(ref.data[i] - got.data[i]));
    assert.ok(worst < 1e-4, `max |Δ| ${worst} at size ${size}`);
  }
});
