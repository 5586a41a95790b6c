// A trained network as an ONNX model (opset 17): the network's toOnnx() graph with float32
// initializers, dynamic batch and spatial axes, and the model's metadata in metadata_props
// (keys in onnx-meta.ts), so that a reader needs nothing but the .onnx file.
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { ComboSegError } from '../engine/errors.js';
import type { ModelMeta } from '../inference/model-meta.js';
import type { LoadedModel } from '../inference/model.js';
import type { Network } from '../networks/network.js';
import { writeFileAtomic } from '../util/fs.js';
import { toJson } from '../util/json.js';
import { ONNX_IR_VERSION, ONNX_OPSET, OnnxGraphBuilder } from './onnx-builder.js';
import { ONNX_META } from './onnx-meta.js';

const { ModelProto, TensorProto } = onnxProto.onnx;

/** package.json's version (a test keeps them equal): reading the file would tie this module to its location. */
export const PRODUCER_VERSION = '0.1.0';

/** Names of the graph's input and output. */
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'logits';

/** A float32 [batch, channels, depth, height, width] value with symbolic batch and spatial axes. */
function volumeValue(name: string, channels: number): onnx.IValueInfoProto {
  const dim = ['batch', channels, 'depth', 'height', 'width'].map((d) =>
    typeof d === 'number' ? { dimValue: d } : { dimParam: d },
  );
  return { name, type: { tensorType: { elemType: TensorProto.DataType.FLOAT, shape: { dim } } } };
}

/** The metadata_props of an export: the contract of onnx-meta.ts, plus readable copies for people. */
function metadataProps(network: Network, meta: ModelMeta): onnx.IStringStringEntryProto[] {
  const [x, y, z] = meta.patchSize;
  const props: Record<string, string> = {
    [ONNX_META.model]: JSON.stringify(toJson(meta)),
    [ONNX_META.divisor]: String(network.divisor),
    [ONNX_META.fullResolutionWidth]: String(network.fullResolutionWidth),
    [ONNX_META.network]: meta.network,
    [ONNX_META.layout]: meta.layout,
    [ONNX_META.activation]: meta.layout === 'sigmoid' ? 'sigmoid' : 'softmax over channels',
    [ONNX_META.normalisation]: JSON.stringify(meta.normalisation),
    [ONNX_META.window]: `${x},${y},${z}`,
    [ONNX_META.organs]: JSON.stringify(meta.labels),
    [ONNX_META.threshold]: String(meta.inference.threshold),
  };
  return Object.entries(props).map(([key, value]) => ({ key, value }));
}

/**
 * The ONNX model of a network with its metadata, encoded. The network is exported in evaluation
 * mode (batch norm with its running statistics); a network in training mode is switched back after.
 */
export function exportOnnx(network: Network, meta: ModelMeta): Uint8Array {
  if (meta.network !== network.name) {
    throw new ComboSegError(`ONNX export: the metadata is of a '${meta.network}' network, not '${network.name}'`, {
      code: 'invalid-input',
    });
  }
  const training = network.training;
  network.eval();
  try {
    const b = new OnnxGraphBuilder(network);
    b.reserve(ONNX_INPUT);
    b.reserve(ONNX_OUTPUT);
    b.node('Identity', [network.toOnnx(b, ONNX_INPUT)], [], [ONNX_OUTPUT]);
    const { inChannels, outChannels } = network.options;
    const shapes = `${ONNX_INPUT} [batch, ${inChannels}, D, H, W] → ${ONNX_OUTPUT} [batch, ${outChannels}, D, H, W]`;
    const model: onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'comboseg',
      producerVersion: PRODUCER_VERSION,
      docString: `comboseg ${meta.network}: ${shapes}`,
      graph: {
        name: `comboseg_${meta.network}`,
        node: b.nodes,
        initializer: b.initializers,
        input: [volumeValue(ONNX_INPUT, inChannels)],
        output: [volumeValue(ONNX_OUTPUT, outChannels)],
      },
      metadataProps: metadataProps(network, meta),
    };
    return ModelProto.encode(model).finish();
  } finally {
    if (training) network.train();
  }
}

/** Writes a loaded model as ONNX, atomically (never a half-written file); returns the bytes written. */
export function writeOnnx(path: string, loaded: Pick<LoadedModel, 'network' | 'meta'>): Uint8Array {
  const bytes = exportOnnx(loaded.network, loaded.meta);
  writeFileAtomic(path, bytes);
  return bytes;
}
