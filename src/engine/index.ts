export { Tensor, tensor, scalar, type TensorOptions } from './tensor.js';
export { tidy, keep, dispose, liveTensors, type Disposable } from './scope.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd.js';
export { manualSeed, setNumThreads, getNumThreads, engineInfo } from './runtime.js';
export { ComboSegError, TorchError } from './errors.js';
export { to, moveTo_, normaliseDevice, DeviceSchema, type Device } from './device.js';
export type { DType, TypedArray } from './dtype.js';
export {
  saveSafetensors,
  loadSafetensors,
  encodeSafetensors,
  decodeSafetensors,
  type Safetensors,
  type JsonValue,
} from './safetensors.js';
export { call } from './ops/dispatch.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export * from './ops/nn.js';
export * from './ops/creation.js';
export * from './ops/inplace.js';
export {
  withPrecision,
  computePrecision,
  PrecisionSchema,
  type Precision,
  type PrecisionSetting,
} from './precision.js';
export { resolvePrecision, cpuPrecision, type PrecisionChoice } from './precision-default.js';
