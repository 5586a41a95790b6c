export {
  slidingWindow,
  wholeVolume,
  windowStarts,
  gaussianMap,
  type Aggregation,
  type SlidingWindowOptions,
} from './sliding-window.js';
export { predictVolume, wholeVolumeBytes, type InferenceSettings, type Prediction } from './predict.js';
export {
  saveModel,
  loadModel,
  modelFile,
  modelChannels,
  checkChannels,
  describeChannels,
  type ModelMeta,
  type ModelMetaInput,
  type LoadedModel,
} from './model.js';
