// What `predict` segments with: trained checkpoints on libtorch (one model or an ensemble averaging
// probabilities), or an exported ONNX model on onnxruntime (src/inference/portable.ts).
import { ComboSegError } from '../engine/errors.js';
import { dispose } from '../engine/scope.js';
import type { PrecisionSetting } from '../engine/precision.js';
import { resolvePrecision } from '../engine/precision-default.js';
import type { Volume } from '../data/volume.js';
import { loadModel, type LoadedModel, type ModelMeta } from '../inference/model.js';
import { checkEnsemble, predictEnsemble, type EnsemblePrediction } from '../inference/ensemble.js';
import { loadOnnxModel } from '../inference/onnx-session.js';
import { predictPortable } from '../inference/portable.js';
import type { InferenceSettings } from '../inference/settings.js';
import { resolveModelPath } from '../training/run-dir.js';

export type Runtime = 'libtorch' | 'onnx';

export interface Segmenter {
  /** Each model's metadata and path, in the order given. */
  models: { meta: ModelMeta; path: string }[];
  segment(
    scan: Volume,
    settings: Partial<InferenceSettings>,
    onProgress: (done: number, total: number, model: number) => void,
  ): Promise<EnsemblePrediction>;
  close(): Promise<void>;
}

const isOnnx = (p: string) => p.toLowerCase().endsWith('.onnx');

/** The runtime `--runtime` names, or the one the model files call for (.onnx: onnxruntime). */
export function runtimeFor(flag: string | undefined, paths: string[]): Runtime {
  if (flag !== undefined && flag !== 'libtorch' && flag !== 'onnx') {
    throw new ComboSegError(`--runtime ${flag}: expected libtorch or onnx`, {
      code: 'invalid-option',
      path: '--runtime',
    });
  }
  const runtime: Runtime = flag ?? (paths.some(isOnnx) ? 'onnx' : 'libtorch');
  const wrong = paths.filter((p) => isOnnx(p) !== (runtime === 'onnx'));
  if (wrong.length) {
    const why =
      runtime === 'onnx'
        ? 'runs ONNX exports; export a checkpoint first: comboseg export --model RUN/best --onnx FILE.onnx'
        : 'runs checkpoints (.safetensors, RUN_DIR/best); give --runtime onnx for an ONNX file';
    throw new ComboSegError(`--runtime ${runtime} ${why} (got ${wrong.join(', ')})`, {
      code: 'invalid-option',
      path: '--model',
    });
  }
  return runtime;
}

function disposeModel(m: LoadedModel): void {
  m.network.dispose();
  dispose(m.extra);
}

/** Checkpoints on libtorch at `device` and `precision`; one that fails to load frees those already loaded. */
export function libtorchSegmenter(paths: string[], device: string, precision: PrecisionSetting): Segmenter {
  const loaded: (LoadedModel & { path: string })[] = [];
  try {
    for (const p of paths) {
      const path = resolveModelPath(p);
      const model = loadModel(path);
      loaded.push({ ...model, path });
      model.network.to(device);
      model.network.precision = resolvePrecision(precision, device);
    }
    const members = loaded.map((m) => ({ net: m.network, meta: m.meta, name: m.path }));
    checkEnsemble(members);
    return {
      models: loaded.map((m) => ({ meta: m.meta, path: m.path })),
      segment: (scan, settings, onProgress) => Promise.resolve(predictEnsemble(members, scan, settings, onProgress)),
      close: () => {
        loaded.forEach(disposeModel);
        return Promise.resolve();
      },
    };
  } catch (e) {
    loaded.forEach(disposeModel);
    throw e;
  }
}

/** One ONNX export on onnxruntime (CPU). */
export async function onnxSegmenter(paths: string[]): Promise<Segmenter> {
  if (paths.length !== 1) {
    throw new ComboSegError(`--runtime onnx runs one model (got ${paths.length}); ensembles run on libtorch`, {
      code: 'invalid-option',
      path: '--model',
    });
  }
  const model = await loadOnnxModel(paths[0]);
  return {
    models: [{ meta: model.meta, path: model.path }],
    segment: async (scan, settings, onProgress) => {
      const p = await predictPortable(model, scan, settings, (done, total) => onProgress(done, total, 0));
      return { ...p, modes: [p.mode] };
    },
    close: () => model.release(),
  };
}
