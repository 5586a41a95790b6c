// Input checks and activations shared by the losses. Every loss takes logits
// and applies its own activation stably (log-sigmoid / log-softmax); with
// `fromProbabilities` it takes probabilities and clamps them to [ε, 1 − ε].
import { ComboSegError } from '../engine/errors.js';
import type { Tensor } from '../engine/tensor.js';
import {
  clamp,
  log,
  logSigmoid,
  logSoftmax,
  sigmoid,
  rsub,
  oneHot,
  permute,
  eq,
  ne,
  logicalOr,
  isfinite,
  softmax,
  slice,
} from '../engine/index.js';
import type { OutputLayout } from './layout.js';
import { isFloating as floating } from '../engine/dtype.js';

/** Probabilities are clamped to [EPS, 1 − EPS] before a log. */
export const EPS = 1e-7;

function checkFinite(loss: string, logits: Tensor, what: string): void {
  const bad = logits.size - isfinite(logits).sum().item();
  if (bad > 0) throw new ComboSegError(`loss '${loss}': ${what} contain ${bad} NaN or infinite value(s)`);
}

/**
 * Checks sigmoid-loss inputs: same shape, floating logits, finite values, a
 * {0, 1} target. Returns the target in the logits' dtype.
 */
export function sigmoidInputs(loss: string, logits: Tensor, target: Tensor, fromProbabilities: boolean): Tensor {
  if (!floating(logits.dtype))
    throw new ComboSegError(`loss '${loss}': logits must be float32 or float64, got ${logits.dtype}`);
  if (logits.rank < 2)
    throw new ComboSegError(`loss '${loss}': expected logits [B, C, ...spatial], got shape [${logits.shape}]`);
  if (logits.shape.join() !== target.shape.join()) {
    throw new ComboSegError(
      `loss '${loss}': target shape [${target.shape}] does not match logits shape [${logits.shape}] ` +
        '(sigmoid losses take a one-hot target with one channel per organ, no background channel)',
    );
  }
  checkFinite(loss, logits, fromProbabilities ? 'probabilities' : 'logits');
  if (fromProbabilities) {
    const lo = logits.min().item(),
      hi = logits.max().item();
    if (lo < 0 || hi > 1)
      throw new ComboSegError(
        `loss '${loss}': fromProbabilities is set but inputs span [${lo}, ${hi}], outside [0, 1]`,
      );
  }
  const t = target.dtype === logits.dtype ? target : target.cast(logits.dtype);
  const off = t.size - logicalOr(eq(t, 0), eq(t, 1)).sum().item();
  if (off > 0)
    throw new ComboSegError(`loss '${loss}': target has ${off} value(s) outside {0, 1}; expected a one-hot mask`);
  return t;
}

/** σ(x), or the clamped probabilities themselves. */
export function probs(x: Tensor, fromProbabilities: boolean): Tensor {
  return fromProbabilities ? clamp(x, EPS, 1 - EPS) : sigmoid(x);
}

/** ln p, exact for any logit (log-sigmoid), or ln of the clamped probability. */
export function logP(x: Tensor, fromProbabilities: boolean): Tensor {
  return fromProbabilities ? log(clamp(x, EPS, 1 - EPS)) : logSigmoid(x);
}

/** ln(1 − p) = log σ(−x), or ln(1 − clamped p). */
export function log1mP(x: Tensor, fromProbabilities: boolean): Tensor {
  return fromProbabilities ? log(rsub(clamp(x, EPS, 1 - EPS), 1)) : logSigmoid(x.neg());
}

/**
 * Checks softmax-loss inputs and returns the one-hot target [B, C, ...] in the
 * logits' dtype. The target is either integer labels [B, ...spatial] with values
 * in 0..C−1 (converted here) or already one-hot with the logits' shape.
 */
export function softmaxInputs(loss: string, logits: Tensor, target: Tensor, fromProbabilities: boolean): Tensor {
  if (!floating(logits.dtype))
    throw new ComboSegError(`loss '${loss}': logits must be float32 or float64, got ${logits.dtype}`);
  if (logits.rank < 2)
    throw new ComboSegError(`loss '${loss}': expected logits [B, C, ...spatial], got shape [${logits.shape}]`);
  checkFinite(loss, logits, fromProbabilities ? 'probabilities' : 'logits');
  const C = logits.shape[1];
  if (target.shape.join() === logits.shape.join()) {
    const t = target.dtype === logits.dtype ? target : target.cast(logits.dtype);
    const off = t.size - logicalOr(eq(t, 0), eq(t, 1)).sum().item();
    if (off > 0) throw new ComboSegError(`loss '${loss}': one-hot target has ${off} value(s) outside {0, 1}`);
    const notOne = ne(t.sum([1]), 1)
      .sum()
      .item();
    if (notOne > 0)
      throw new ComboSegError(`loss '${loss}': one-hot target has ${notOne} voxel(s) whose channels do not sum to 1`);
    return t;
  }
  const labelShape = [logits.shape[0], ...logits.shape.slice(2)];
  if (target.shape.join() !== labelShape.join()) {
    throw new ComboSegError(
      `loss '${loss}': target shape [${target.shape}] is neither the logits shape [${logits.shape}] (one-hot) ` +
        `nor [${labelShape}] (integer labels)`,
    );
  }
  const lo = target.min().item(),
    hi = target.max().item();
  if (lo < 0 || hi > C - 1)
    throw new ComboSegError(`loss '${loss}': target labels span [${lo}, ${hi}], outside 0..${C - 1} for ${C} channels`);
  const labels = target.cast('int64');
  if (ne(labels, target).sum().item() > 0) throw new ComboSegError(`loss '${loss}': target labels must be integers`);
  const hot = oneHot(labels, C); // [B, ...spatial, C]
  const order = [0, hot.rank - 1, ...Array.from({ length: hot.rank - 2 }, (_, i) => i + 1)];
  return permute(hot, order).cast(logits.dtype);
}

/** ln softmax(x) over dim 1, or ln of clamped probabilities. */
export function logSoftmaxProbs(x: Tensor, fromProbabilities: boolean): Tensor {
  return fromProbabilities ? log(clamp(x, EPS, 1)) : logSoftmax(x, 1);
}

/**
 * Probabilities and one-hot target of an overlap loss, [B, K, ...] over the organs only: sigmoid
 * (the target as given, one channel per organ), or softmax over background + organs with the
 * background channel dropped after the softmax (labels or a one-hot target with background).
 */
export function overlapInputs(
  loss: string,
  logits: Tensor,
  target: Tensor,
  layout: OutputLayout,
  fromProbabilities: boolean,
): { p: Tensor; t: Tensor } {
  if (layout === 'sigmoid') {
    const t = sigmoidInputs(loss, logits, target, fromProbabilities);
    return { p: probs(logits, fromProbabilities), t };
  }
  const t = softmaxInputs(loss, logits, target, fromProbabilities);
  const p = fromProbabilities ? clamp(logits, EPS, 1) : softmax(logits, 1);
  const C = logits.shape[1];
  if (C < 2) {
    throw new ComboSegError(`loss '${loss}': layout 'softmax' needs a background and at least one organ channel`, {
      code: 'invalid-input',
    });
  }
  return { p: slice(p, 1, 1, C), t: slice(t, 1, 1, C) };
}
