// comboseg: 3-D medical image segmentation with the Combo loss, on libtorch.
export * from './engine/index.js';
export * as losses from './losses/index.js';
export * as networks from './networks/index.js';
export * as nn from './nn/index.js';
export * as training from './training/index.js';
export * as data from './data/index.js';
export * as metrics from './metrics/index.js';
export * as inference from './inference/index.js';
export * as experiments from './experiments/index.js';
export * as exporting from './export/index.js';
