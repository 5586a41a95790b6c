// Ensembles (the folds of a cross-validation): the mean of the models' probabilities, each model run
// with its own metadata; labels made from the mean as one model's are; mismatched models refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ComboSegError } from '../../src/engine/errors.js';
import { create } from '../../src/networks/registry.js';
import type { Network } from '../../src/networks/network.js';
import type { Volume } from '../../src/data/volume.js';
import { ModelMetaSchema, type ModelMeta, type ModelMetaInput } from '../../src/inference/model.js';
import { predictionFrom, predictVolume } from '../../src/inference/predict.js';
import { largestComponents } from '../../src/inference/postprocess.js';
import { checkEnsemble, predictEnsemble } from '../../src/inference/ensemble.js';
import { assertClose } from '../helpers.js';

const LABELS = { values: [1, 3], names: ['liver', 'spleen'] };

/** A tiny untrained network of 2 organs (sigmoid) with its metadata. */
function tinyModel(seed: number, meta: Partial<ModelMetaInput> = {}): { net: Network; meta: ModelMeta } {
  const outChannels = meta.layout === 'softmax' ? 3 : 2;
  const net = create('proposed', { channels: [4, 8], inChannels: 1, outChannels, seed, outputBias: 0.2 });
  net.eval();
  const m = ModelMetaSchema.parse({
    network: 'proposed',
    options: net.options,
    labels: LABELS,
    normalisation: { kind: 'zscore', mean: 20, std: 10 },
    perPatchMinMax: false,
    patchSize: [16, 16, 8],
    inference: { mode: 'whole' },
    epoch: 1,
    validationDice: null,
    ...meta,
  });
  return { net, meta: m };
}

const models = [
  tinyModel(1),
  // Its own normalisation, patch size, sliding windows with a Gaussian and per-window min–max.
  tinyModel(2, {
    normalisation: { kind: 'minmax', min: 0, max: 40 },
    perPatchMinMax: true,
    patchSize: [8, 8, 8],
    inference: { mode: 'window', aggregation: 'gaussian', stride: 4 },
  }),
  tinyModel(3),
];
after(() => models.forEach((m) => m.net.dispose()));

const scan: Volume = {
  size: [16, 12, 8],
  spacing: [1, 1, 2],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  data: Float32Array.from({ length: 16 * 12 * 8 }, (_, i) => ((i * 7) % 41) + (i % 16 > 8 ? 10 : 0)),
  pixelType: 'float32',
};

test('the ensemble’s probabilities are the mean of the models’ own predictions; labels made from the mean', () => {
  for (const members of [models.slice(0, 2), models]) {
    const single = members.map((m) => predictVolume(m.net, m.meta, scan));
    const ens = predictEnsemble(members, scan);
    assert.deepEqual(
      ens.modes,
      single.map((p) => p.mode),
    );
    assert.deepEqual(ens.modes.slice(0, 2), ['whole', 'window'], 'each model ran with its own settings');
    for (let k = 0; k < LABELS.values.length; k++) {
      const expected = Array.from(ens.probabilities[k].data, (_, i) => {
        return single.reduce((a, p) => a + p.probabilities[k].data[i], 0) / members.length;
      });
      assertClose(ens.probabilities[k].data, expected, 1e-6, `organ ${k}`);
    }
    // The label map is the one the averaged probabilities give (threshold: the first model's).
    const averaged = Float32Array.from(ens.probabilities.flatMap((p) => [...p.data]));
    const labels = predictionFrom(scan, members[0].meta, averaged, { threshold: 0.5 }, 'whole').labels;
    assert.deepEqual(ens.labels.data, labels.data);
    assert.ok(new Set(ens.labels.data).size > 1, 'a label map with more than one value');
    assert.deepEqual([ens.labels.size, ens.labels.spacing], [scan.size, scan.spacing]);
  }
});

test('an ensemble of one model is predictVolume; overrides reach every model', () => {
  const [m] = models;
  for (const o of [{}, { threshold: 0.3, largestComponent: true }]) {
    const one = predictEnsemble([m], scan, o);
    const single = predictVolume(m.net, m.meta, scan, o);
    assert.deepEqual(one.labels, single.labels);
    assert.deepEqual(one.probabilities, single.probabilities);
    assert.equal(one.mode, single.mode);
  }
  const tta = predictEnsemble(models.slice(0, 2), scan, { flipTta: true });
  const expected = models
    .slice(0, 2)
    .map((x) => predictVolume(x.net, x.meta, scan, { flipTta: true }).probabilities[0]);
  assertClose(
    tta.probabilities[0].data,
    Array.from(expected[0].data, (v, i) => (v + expected[1].data[i]) / 2),
    1e-6,
  );
});

test('largestComponent on an ensemble: the averaged label map keeps each organ’s largest component', () => {
  const plain = predictEnsemble(models, scan);
  const kept = predictEnsemble(models, scan, { largestComponent: ['spleen'] });
  assert.deepEqual(kept.labels.data, largestComponents(plain.labels, [3]).data);
  assert.notDeepEqual(kept.labels.data, plain.labels.data, 'the spleen had several components');
  assert.deepEqual(kept.probabilities, plain.probabilities, 'probabilities untouched');
  assert.throws(
    () => predictEnsemble(models, scan, { largestComponent: ['kidney'] }),
    /no organ 'kidney' in the model; its organs are 'liver', 'spleen'/,
  );
});

test('models of other organs, layout or channels are refused, naming both models', () => {
  const other = tinyModel(4, { labels: { values: [1, 2], names: ['liver', 'spleen'] } });
  const softmax = tinyModel(5, { layout: 'softmax' });
  try {
    const named = [
      { ...models[0], name: 'runs/fold0/best' },
      { ...other, name: 'runs/fold1/best' },
    ];
    const message =
      'runs/fold0/best segments 1:liver, 3:spleen; runs/fold1/best segments 1:liver, 2:spleen: ' +
      'the models of an ensemble must have the same organs (names and values)';
    assert.throws(
      () => predictEnsemble(named, scan),
      (e: unknown) => e instanceof ComboSegError && e.code === 'invalid-input' && e.message === message,
    );
    assert.throws(() => checkEnsemble([models[0], softmax]), /model 1 has a sigmoid output, model 2 a softmax one/);
    assert.throws(() => checkEnsemble([]), /at least one model/);
  } finally {
    other.net.dispose();
    softmax.net.dispose();
  }
});
