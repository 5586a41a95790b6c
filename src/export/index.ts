// Model export: ONNX graphs of the networks with the model's metadata, and reading that metadata back.
export { OnnxGraphBuilder, attr, ONNX_OPSET, ONNX_IR_VERSION } from './onnx-builder.js';
export { exportOnnx, writeOnnx, PRODUCER_VERSION, ONNX_INPUT, ONNX_OUTPUT } from './onnx.js';
export { readOnnxModelInfo, ONNX_META, type OnnxModelInfo } from './onnx-meta.js';
