// A small ONNX graph builder: nodes, initializers from our tensors, unique value names, and one
// method per layer kind of src/nn, each emitting the ONNX operators (opset 17) that compute exactly
// what the layer's forward() computes in evaluation mode. Networks call these from toOnnx().
import onnxProto from 'onnx-proto';
import { ComboSegError } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import type { Triple } from '../engine/ops/nn.js';
import { Conv3d, ConvTranspose3d } from '../nn/conv.js';
import { BatchNorm3d, MaxPool3d, MaxUnpool3d, PReLU, ReLU, Sequential, Upsample } from '../nn/layers.js';
import type { Module } from '../nn/module.js';

// onnx-proto is CommonJS whose exports Node cannot name statically: its default export holds `onnx`.
const { AttributeProto, TensorProto } = onnxProto.onnx;

/** The opset the builder's operators are written for (ReduceMean's axes are an attribute up to 17). */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17. */
export const ONNX_IR_VERSION = 8;

// Our own shapes of what the builder makes, as onnx-proto's encoder takes them: the package's types (which
// need protobufjs's Long) stay out of comboseg's public declarations.
/** An ONNX AttributeProto. */
export interface OnnxAttribute {
  name: string;
  type: number;
  i?: number;
  ints?: number[];
  f?: number;
  s?: Uint8Array;
}
/** An ONNX NodeProto. */
export interface OnnxNode {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute: OnnxAttribute[];
}
/** An ONNX TensorProto (initializer) with its raw little-endian data. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

const triple = (v: Triple): [number, number, number] => (typeof v === 'number' ? [v, v, v] : v);

/** Attribute constructors: ONNX tells ints from floats by the attribute's type, not by the value. */
export const attr = {
  int: (name: string, i: number): OnnxAttribute => ({ name, type: AttributeProto.AttributeType.INT, i }),
  ints: (name: string, ints: number[]): OnnxAttribute => ({
    name,
    type: AttributeProto.AttributeType.INTS,
    ints,
  }),
  float: (name: string, f: number): OnnxAttribute => ({ name, type: AttributeProto.AttributeType.FLOAT, f }),
  string: (name: string, s: string): OnnxAttribute => ({
    name,
    type: AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  }),
};

// ONNX raw_data is little-endian; a Float32Array's bytes are the host's order.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly #used = new Set<string>();
  /** State-dict names of the root module's tensors: initializers keep them (`encoder.0.0.0.weight`). */
  readonly #stateNames = new Map<Tensor, string>();
  /** Initializers already made from a tensor, by shape (a layer used twice stores its weights once). */
  readonly #stored = new Map<Tensor, Map<string, string>>();
  /** Constant initializers by what they hold (the up-sampling scales), made once. */
  readonly #constants = new Map<string, string>();

  constructor(root?: Module) {
    if (root)
      for (const [name, t] of [...root.namedParameters(), ...root.namedBuffers()]) this.#stateNames.set(t, name);
  }

  /** Claims `name` as a value name (the graph's input and output); throws if it is taken. */
  reserve(name: string): string {
    if (this.#used.has(name)) throw new ComboSegError(`ONNX export: value name '${name}' used twice`);
    this.#used.add(name);
    return name;
  }

  /** A value name not used yet: `base`, else `base_1`, `base_2`, ... */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.#used.has(name); i++) name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }

  /** Adds a node; `outputs` are names to use or a count of fresh ones. Returns the output names. */
  node(op: string, inputs: string[], attributes: OnnxAttribute[] = [], outputs: number | string[] = 1): string[] {
    const out = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.unique(op)) : outputs;
    this.nodes.push({ opType: op, input: inputs, output: out, name: this.unique(`${op}_node`), attribute: attributes });
    return out;
  }

  /** A float32 initializer. */
  floats(base: string, data: Float32Array, dims: number[]): string {
    if (!littleEndian) throw new ComboSegError('ONNX export needs a little-endian machine', { code: 'unsupported' });
    const name = this.unique(base);
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: TensorProto.DataType.FLOAT, rawData });
    return name;
  }

  /** An initializer holding a copy of a module's tensor as float32, optionally reshaped to `dims`. */
  weight(t: Tensor, dims: number[] = t.shape): string {
    const byShape = this.#stored.get(t) ?? new Map<string, string>();
    this.#stored.set(t, byShape);
    const known = byShape.get(dims.join());
    if (known !== undefined) return known;
    const name = this.floats(this.#stateNames.get(t) ?? 'weight', t.toFloat32Array(), dims);
    byShape.set(dims.join(), name);
    return name;
  }

  /** Any layer of src/nn; a kind without an ONNX mapping is an error naming it. */
  layer(m: Module, x: string): string {
    if (m instanceof Sequential) return this.sequential(m, x);
    if (m instanceof Conv3d) return this.conv3d(m, x);
    if (m instanceof ConvTranspose3d) return this.convTranspose3d(m, x);
    if (m instanceof BatchNorm3d) return this.batchNorm3d(m, x);
    if (m instanceof ReLU) return this.relu(x);
    if (m instanceof PReLU) return this.prelu(m, x);
    if (m instanceof MaxPool3d) return this.maxPool3d(m, x);
    if (m instanceof Upsample) return this.upsample(m, x);
    const why = m instanceof MaxUnpool3d ? ' on its own (it needs the pooling indices: use maxUnpool3d)' : '';
    throw new ComboSegError(`ONNX export: no ONNX mapping for layer ${m.constructor.name}${why}`, {
      code: 'unsupported',
    });
  }

  sequential(m: Sequential, x: string): string {
    return m.layers.reduce((h, layer) => this.layer(layer, h), x);
  }

  conv3d(m: Conv3d, x: string): string {
    const inputs = [x, this.weight(m.weight), ...(m.bias ? [this.weight(m.bias)] : [])];
    return this.node('Conv', inputs, [
      attr.ints('kernel_shape', m.weight.shape.slice(2)),
      attr.ints('strides', m.stride),
      attr.ints('pads', [...m.padding, ...m.padding]),
      attr.ints('dilations', m.dilation),
      attr.int('group', 1),
    ])[0];
  }

  /** Weight [in, out, k, k, k]: libtorch's layout is ONNX's. */
  convTranspose3d(m: ConvTranspose3d, x: string): string {
    const inputs = [x, this.weight(m.weight), ...(m.bias ? [this.weight(m.bias)] : [])];
    return this.node('ConvTranspose', inputs, [
      attr.ints('kernel_shape', m.weight.shape.slice(2)),
      attr.ints('strides', m.stride),
      attr.ints('pads', [...m.padding, ...m.padding]),
      attr.ints('output_padding', m.outputPadding),
      attr.ints('dilations', [1, 1, 1]),
      attr.int('group', 1),
    ])[0];
  }

  /** Inference-mode batch norm with the running statistics; a layer still in training mode is refused. */
  batchNorm3d(m: BatchNorm3d, x: string): string {
    if (m.training) {
      throw new ComboSegError('ONNX export: batch norm is in training mode; call network.eval() first', {
        code: 'invalid-input',
      });
    }
    const inputs = [x, ...[m.weight, m.bias, m.runningMean, m.runningVar].map((t) => this.weight(t))];
    return this.node('BatchNormalization', inputs, [
      attr.float('epsilon', m.eps),
      attr.float('momentum', m.momentum),
    ])[0];
  }

  relu(x: string): string {
    return this.node('Relu', [x])[0];
  }

  /** One slope per channel, shaped [C, 1, 1, 1] so that it broadcasts over [N, C, D, H, W]. */
  prelu(m: PReLU, x: string): string {
    return this.node('PRelu', [x, this.weight(m.weight, [m.weight.size, 1, 1, 1])])[0];
  }

  #poolAttrs(m: MaxPool3d | MaxUnpool3d): OnnxAttribute[] {
    return [
      attr.ints('kernel_shape', triple(m.kernel)),
      attr.ints('strides', triple(m.stride)),
      attr.ints('pads', [0, 0, 0, 0, 0, 0]),
    ];
  }

  maxPool3d(m: MaxPool3d, x: string): string {
    return this.node('MaxPool', [x], this.#poolAttrs(m))[0];
  }

  /** Pooled values and ONNX's argmax indices (flat over the whole tensor, which MaxUnpool reads back). */
  maxPool3dWithIndices(m: MaxPool3d, x: string): [string, string] {
    const [values, indices] = this.node('MaxPool', [x], this.#poolAttrs(m), 2);
    return [values, indices];
  }

  /** Max-unpooling to the shape of `like`, the tensor before pooling (dynamic: read with Shape). */
  maxUnpool3d(m: MaxUnpool3d, x: string, indices: string, like: string): string {
    const shape = this.node('Shape', [like])[0];
    return this.node('MaxUnpool', [x, indices, shape], this.#poolAttrs(m))[0];
  }

  /**
   * libtorch's up-sampling with a scale: nearest takes source index floor(dst / scale) ('asymmetric',
   * 'floor'); trilinear with align_corners = false is half-pixel with the source clamped at 0
   * ('pytorch_half_pixel', as torch.onnx writes it).
   */
  upsample(m: Upsample, x: string): string {
    const key = `scales:${m.scale}`;
    const scales =
      this.#constants.get(key) ??
      this.floats('upsample_scales', new Float32Array([1, 1, m.scale, m.scale, m.scale]), [5]);
    this.#constants.set(key, scales);
    const how =
      m.mode === 'nearest'
        ? [attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')]
        : [attr.string('coordinate_transformation_mode', 'pytorch_half_pixel')];
    const mode = attr.string('mode', m.mode === 'nearest' ? 'nearest' : 'linear');
    return this.node('Resize', [x, '', scales], [mode, ...how])[0];
  }

  concat(xs: string[], axis: number): string {
    return this.node('Concat', xs, [attr.int('axis', axis)])[0];
  }

  add(a: string, b: string): string {
    return this.node('Add', [a, b])[0];
  }

  /** Mean over `axes` (an attribute in opset 17; an input from opset 18 on). */
  reduceMean(x: string, axes: number[], keepdims = true): string {
    return this.node('ReduceMean', [x], [attr.ints('axes', axes), attr.int('keepdims', keepdims ? 1 : 0)])[0];
  }
}
