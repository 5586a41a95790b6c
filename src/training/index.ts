export {
  Sgd,
  Adam,
  Adadelta,
  createOptimizer,
  OPTIMIZERS,
  OptimizerConfigSchema,
  SgdOptionsSchema,
  AdamOptionsSchema,
  AdadeltaOptionsSchema,
  type Optimizer,
  type OptimizerConfig,
  type SgdOptions,
  type AdamOptions,
  type AdadeltaOptions,
} from './optimizers.js';
export { parseConfig, TrainConfigSchema, type TrainConfig } from './config.js';
export { train, Trainer, type TrainEvents, type TrainOptions, type TrainResult, type StopSignal } from './trainer.js';
export {
  RunDir,
  RUN_FILES,
  readEpochRecords,
  readRunConfig,
  currentRunInfo,
  resolveModelPath,
  type EpochRecord,
  type RunInfo,
  type RunSplit,
  type TrainingState,
} from './run-dir.js';
export {
  initProcessGroup,
  destroyProcessGroup,
  broadcastModule,
  GradientReducer,
  worldInfo,
  BUCKET_BYTES,
  type ProcessGroupOptions,
} from './distributed.js';
