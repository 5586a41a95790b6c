export { Sgd, Adam, Adadelta, type Optimizer } from './optimizers.js';
export { parseConfig, TrainConfigSchema, type TrainConfig } from './config.js';
export { train, readRunConfig, type EpochRecord, type TrainEvents, type TrainResult, type StopSignal } from './trainer.js';
