// A trained model on disk: weights and batch-norm statistics in safetensors,
// and, as metadata, everything inference needs to reproduce training's view of
// the data (network, options, organs, normalisation statistics, patch size).
import { existsSync, statSync } from 'node:fs';
import { ComboSegError } from '../engine/errors.js';
import { loadSafetensors, saveSafetensors, type JsonValue } from '../engine/safetensors.js';
import { dispose } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { create } from '../networks/registry.js';
import type { Network } from '../networks/network.js';
import { toJson } from '../util/json.js';
import { ModelMetaSchema, parseModelMeta, type ModelMeta, type ModelMetaInput } from './model-meta.js';

export {
  ModelMetaSchema,
  parseModelMeta,
  modelChannels,
  describeChannels,
  checkChannels,
  type ModelMeta,
  type ModelMetaInput,
} from './model-meta.js';

/**
 * A model file: `p` itself, or `p.safetensors` (so RUN_DIR/best names best.safetensors). Run folders
 * are resolved by the run directory's owner (`resolveModelPath` in training/run-dir.ts), not here.
 */
export function modelFile(p: string): string {
  if (existsSync(p) && statSync(p).isFile()) return p;
  if (existsSync(`${p}.safetensors`)) return `${p}.safetensors`;
  throw new ComboSegError(`${p}: no model there (expected a .safetensors file, RUN_DIR/best or RUN_DIR/last)`, {
    code: 'not-found',
    path: p,
  });
}

/** Tensors and metadata saved beside a model (e.g. the optimiser state of `last`). */
export interface ModelExtras {
  tensors?: Record<string, Tensor>;
  metadata?: Record<string, JsonValue>;
}

export function saveModel(path: string, net: Network, meta: ModelMetaInput, extra: ModelExtras = {}): void {
  const weights = Object.entries(net.stateDict()).map(([k, t]) => [`model.${k}`, t] as const);
  const tensors = { ...Object.fromEntries(weights), ...(extra.tensors ?? {}) };
  saveSafetensors(path, tensors, { ...(extra.metadata ?? {}), model: toJson(ModelMetaSchema.parse(meta)) });
}

export interface LoadedModel {
  network: Network;
  meta: ModelMeta;
  /** Tensors saved beside the model (e.g. optimiser state), not model weights; the caller disposes them. */
  extra: Record<string, Tensor>;
  metadata: Record<string, JsonValue>;
}

export function loadModel(path: string): LoadedModel {
  const file = modelFile(path);
  const st = loadSafetensors(file);
  let meta: ModelMeta;
  try {
    meta = parseModelMeta(st.metadata.model, file);
  } catch (e) {
    dispose(st.tensors);
    throw e;
  }
  const weights: Record<string, Tensor> = {},
    extra: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(st.tensors)) {
    if (k.startsWith('model.')) weights[k.slice(6)] = t;
    else extra[k] = t;
  }
  try {
    const network = create(meta.network, meta.options);
    network.loadStateDict(weights);
    network.eval();
    return { network, meta, extra, metadata: st.metadata };
  } catch (e) {
    dispose(extra);
    throw e;
  } finally {
    dispose(weights);
  }
}
