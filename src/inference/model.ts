// A trained model on disk: weights and batch-norm statistics in safetensors,
// and, as metadata, everything inference needs to reproduce training's view of
// the data (network, options, organs, normalisation statistics, patch size).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ComboSegError } from '../engine/errors.js';
import { loadSafetensors, saveSafetensors, type JsonValue } from '../engine/safetensors.js';
import { dispose } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { create } from '../networks/registry.js';
import type { Network } from '../networks/network.js';
import type { LabelSet } from '../data/labels.js';
import type { Normalisation } from '../data/normalise.js';
import type { InferenceSettings } from './predict.js';

export interface ModelMeta {
  network: string;
  options: Record<string, JsonValue>;
  labels: LabelSet;
  normalisation: Normalisation;
  perPatchMinMax: boolean;
  /** Training patch size (x, y, z): the sliding window. */
  patchSize: [number, number, number];
  inference: InferenceSettings;
  epoch: number;
  /** Mean validation Dice over organs at that epoch, if validated. */
  validationDice: number | null;
}

/** Resolves a model file, RUN_DIR/best (→ best.safetensors) or a run folder (→ its best model). */
export function resolveModelPath(p: string): string {
  if (existsSync(p) && statSync(p).isFile()) return p;
  if (existsSync(`${p}.safetensors`)) return `${p}.safetensors`;
  if (existsSync(join(p, 'best.safetensors'))) return join(p, 'best.safetensors');
  throw new ComboSegError(`${p}: no model there (expected a .safetensors file, RUN_DIR/best or RUN_DIR/last)`);
}

export function saveModel(path: string, net: Network, meta: ModelMeta, extra: { tensors?: Record<string, Tensor>; metadata?: Record<string, JsonValue> } = {}): void {
  const tensors = { ...Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [`model.${k}`, t])), ...(extra.tensors ?? {}) };
  saveSafetensors(path, tensors, { ...(extra.metadata ?? {}), model: meta as unknown as JsonValue });
}

export interface LoadedModel {
  network: Network;
  meta: ModelMeta;
  /** Tensors saved beside the model (e.g. optimiser state), not model weights; the caller disposes them. */
  extra: Record<string, Tensor>;
  metadata: Record<string, JsonValue>;
}

export function loadModel(path: string): LoadedModel {
  const file = resolveModelPath(path);
  const st = loadSafetensors(file);
  const meta = st.metadata.model as unknown as ModelMeta | undefined;
  if (!meta || typeof meta.network !== 'string') {
    dispose(st.tensors);
    throw new ComboSegError(`${file}: not a comboseg model (no "model" metadata)`);
  }
  const weights: Record<string, Tensor> = {}, extra: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(st.tensors)) (k.startsWith('model.') ? (weights[k.slice(6)] = t) : (extra[k] = t));
  try {
    const network = create(meta.network, meta.options as Record<string, unknown>);
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
