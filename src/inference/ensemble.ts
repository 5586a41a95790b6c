// Several models on one scan (the folds of a cross-validation): each predicts with its own metadata
// (normalisation, patch size, settings), their probabilities are averaged channel by channel, and the
// mean becomes a label map the way one model's probabilities do (`predictionFrom`), with the first
// model's threshold and largest-component setting.
import { ComboSegError } from '../engine/errors.js';
import type { Network } from '../networks/network.js';
import type { Volume } from '../data/volume.js';
import { describeChannels, modelChannels, type ModelMeta } from './model.js';
import { predictionFrom, predictProbabilities, type Prediction } from './predict.js';
import type { InferenceSettings } from './settings.js';

export interface EnsembleModel {
  /** In eval mode. */
  net: Network;
  meta: ModelMeta;
  /** Names the model in errors (its path); default: "model N". */
  name?: string;
}

export interface EnsemblePrediction extends Prediction {
  /** How each model ran ('window' or 'whole'), in model order; `mode` is the first one's. */
  modes: Prediction['mode'][];
}

const organList = (meta: ModelMeta): string =>
  meta.labels.values.map((v, k) => `${v}:${meta.labels.names[k]}`).join(', ');

/**
 * Throws a ComboSegError ('invalid-input') naming both models unless every model segments the same
 * organs (names and values, in order), with the same output layout, from the same number of channels.
 */
export function checkEnsemble(models: readonly EnsembleModel[]): void {
  if (!models.length) throw new ComboSegError('an ensemble needs at least one model', { code: 'invalid-input' });
  const name = (i: number) => models[i].name ?? `model ${i + 1}`;
  const first = models[0].meta;
  for (let i = 1; i < models.length; i++) {
    const m = models[i].meta;
    const why =
      organList(m) !== organList(first)
        ? `${name(0)} segments ${organList(first)}; ${name(i)} segments ${organList(m)}: ` +
          'the models of an ensemble must have the same organs (names and values)'
        : m.layout !== first.layout
          ? `${name(0)} has a ${first.layout} output, ${name(i)} a ${m.layout} one: ` +
            'the models of an ensemble must share the output layout'
          : modelChannels(m) !== modelChannels(first)
            ? `${name(0)} takes ${describeChannels(first)}, ${name(i)} ${describeChannels(m)}: ` +
              'the models of an ensemble must take the same channels'
            : '';
    if (why) throw new ComboSegError(why, { code: 'invalid-input', path: models[i].name });
  }
}

/**
 * Segments one scan with several models: the mean of their probabilities (each model run with its own
 * metadata and settings, `o` overriding them for all), thresholded with the first model's threshold,
 * then the first model's largest-component setting. One model gives what `predictVolume` gives.
 * `onProgress` reports each model's windows (`model` counts from 0).
 */
export function predictEnsemble(
  models: readonly EnsembleModel[],
  input: Volume | Volume[],
  o: Partial<InferenceSettings> = {},
  onProgress?: (done: number, total: number, model: number) => void,
): EnsemblePrediction {
  checkEnsemble(models);
  const modes: Prediction['mode'][] = [];
  const first = predictProbabilities(models[0].net, models[0].meta, input, o, (d, t) => onProgress?.(d, t, 0));
  modes.push(first.mode);
  const sum = first.probs; // a fresh array: the running sum
  for (let m = 1; m < models.length; m++) {
    const { net, meta } = models[m];
    const raw = predictProbabilities(net, meta, input, o, (d, t) => onProgress?.(d, t, m));
    modes.push(raw.mode);
    const p = raw.probs;
    for (let i = 0; i < sum.length; i++) sum[i] += p[i];
  }
  if (models.length > 1) {
    const scale = 1 / models.length;
    for (let i = 0; i < sum.length; i++) sum[i] *= scale;
  }
  return { ...predictionFrom(first.scan, models[0].meta, sum, first.settings, first.mode), modes };
}
