// An exported model (`comboseg export`) run by onnxruntime-node: its metadata read back and checked,
// its forward pass for ./portable.ts. The page does the same with onnxruntime-web (web/src).
import { existsSync, readFileSync, statSync } from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import { ComboSegError } from '../engine/errors.js';
import { readOnnxModelInfo } from '../export/onnx-meta.js';
import type { PortableModel, Shape5 } from './portable.js';

/**
 * onnxruntime-node, loaded when first needed: an optional peer dependency of the package (its install
 * script fetches GPU extras from the network unless ONNXRUNTIME_NODE_INSTALL=skip), so a missing one is
 * one clear error saying how to add it.
 */
export async function loadOnnxRuntime(): Promise<typeof Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    throw new ComboSegError(
      `onnxruntime-node is not installed (${(e as Error).message.split('\n')[0]}): ` +
        'add it with `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0`',
      { code: 'not-found' },
    );
  }
}

export interface OnnxModel extends PortableModel {
  path: string;
  release(): Promise<void>;
}

/** Loads `path` (a comboseg ONNX export) into an onnxruntime session on the CPU. */
export async function loadOnnxModel(path: string): Promise<OnnxModel> {
  if (!existsSync(path) || !statSync(path).isFile())
    throw new ComboSegError(`${path}: no such ONNX file`, { code: 'not-found', path });
  const bytes = new Uint8Array(readFileSync(path));
  const info = readOnnxModelInfo(bytes, path);
  const ort = await loadOnnxRuntime();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  } catch (e) {
    throw new ComboSegError(`${path}: onnxruntime cannot load it: ${(e as Error).message}`, {
      code: 'bad-file',
      path,
    });
  }
  const forward = async (x: Float32Array, shape: Shape5): Promise<Float32Array> => {
    const out = await session.run({ image: new ort.Tensor('float32', x, shape) });
    const logits = out.logits;
    if (!(logits.data instanceof Float32Array))
      throw new ComboSegError(`${path}: the model's output 'logits' is not float32`, { code: 'bad-file', path });
    return logits.data;
  };
  return { ...info, forward, path, release: () => session.release() };
}
