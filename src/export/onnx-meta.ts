// Reading a comboseg ONNX export's metadata back. Browser-safe: only onnx-proto, the model
// metadata schema and the error type (no Node modules, no engine), so the viewer page uses it too.
import onnxProto from 'onnx-proto';
import { ComboSegError } from '../engine/errors.js';
import { parseModelMeta, type ModelMeta } from '../inference/model-meta.js';

/** The metadata_props keys an export writes: a contract with every reader of the file. */
export const ONNX_META = {
  /** JSON of the full ModelMeta (parseModelMeta reads it). */
  model: 'comboseg.model',
  /** Each spatial input size must be a multiple of it. */
  divisor: 'comboseg.divisor',
  /** Channels of the widest full-resolution activation (sizes a whole-volume pass's memory). */
  fullResolutionWidth: 'comboseg.fullResolutionWidth',
  // Human-readable copies of what comboseg.model holds.
  network: 'comboseg.network',
  layout: 'comboseg.layout',
  activation: 'comboseg.activation',
  normalisation: 'comboseg.normalisation',
  window: 'comboseg.window',
  organs: 'comboseg.organs',
  threshold: 'comboseg.threshold',
} as const;

export interface OnnxModelInfo {
  meta: ModelMeta;
  divisor: number;
  fullResolutionWidth: number;
}

type JsonInput = Parameters<typeof parseModelMeta>[0];

const damaged = (name: string, what: string): ComboSegError =>
  new ComboSegError(`${name}: damaged model metadata: ${what}`, { code: 'bad-file', path: name });

/** A positive integer from the metadata, or a damaged-metadata error naming the key. */
function positiveInt(props: Map<string, string>, key: string, name: string): number {
  const text = props.get(key);
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1) {
    throw damaged(name, `${key} must be a positive integer, got ${text === undefined ? 'nothing' : `"${text}"`}`);
  }
  return n;
}

/** The metadata of an ONNX file's ModelProto; a file that is not ONNX is an error. */
function metadataOf(bytes: Uint8Array, name: string): Map<string, string> {
  const notOnnx = (why: string) =>
    new ComboSegError(`${name}: not an ONNX model (${why})`, { code: 'bad-file', path: name });
  let model: ReturnType<typeof onnxProto.onnx.ModelProto.decode>;
  try {
    model = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw notOnnx(e instanceof Error ? e.message : String(e));
  }
  // Protobuf decodes many byte strings without complaint: an ONNX model has an IR version, an opset and a graph.
  // int64 fields decode as Long objects where protobufjs finds the long package (whose toString is decimal).
  const irField: unknown = model.irVersion;
  const ir = typeof irField === 'number' ? irField : Number(String(irField));
  if (!model.graph || ir < 1 || model.opsetImport.length === 0) {
    throw notOnnx('no IR version, opset or graph in it');
  }
  return new Map(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
}

/**
 * The model metadata of a comboseg ONNX export (`comboseg export --onnx`); `name` names the file in errors.
 * Not ONNX, ONNX from elsewhere and damaged metadata each give their own ComboSegError (code 'bad-file').
 */
export function readOnnxModelInfo(bytes: Uint8Array, name: string): OnnxModelInfo {
  const props = metadataOf(bytes, name);
  const text = props.get(ONNX_META.model);
  if (text === undefined) {
    throw new ComboSegError(
      `${name}: not a comboseg export (no comboseg metadata); ` +
        'export one with `comboseg export --model RUN/best --onnx FILE`',
      { code: 'bad-file', path: name },
    );
  }
  let value: JsonInput;
  try {
    value = JSON.parse(text) as JsonInput;
  } catch (e) {
    throw damaged(name, `${ONNX_META.model} is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const meta = parseModelMeta(value, name);
  return {
    meta,
    divisor: positiveInt(props, ONNX_META.divisor, name),
    fullResolutionWidth: positiveInt(props, ONNX_META.fullResolutionWidth, name),
  };
}
