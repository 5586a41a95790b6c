// Label maps ↔ the paper's sigmoid layout: K channels, one per organ, no
// background channel. Channel k holds label value `values[k]`.
import { ComboSegError } from '../engine/errors.js';
import type { OutputLayout } from '../losses/layout.js';

/** The organs of a data set, in channel order: label value and name of each. */
export interface LabelSet {
  values: number[];
  names: string[];
}

/** From an MSD-style {"0": "background", "1": "brain", ...} map (0 is background and dropped). */
export function labelSetFrom(map: Record<string, string>): LabelSet {
  const entries = Object.entries(map)
    .map(([k, n]) => [Number(k), n] as const)
    .filter(([k]) => k !== 0)
    .sort((a, b) => a[0] - b[0]);
  if (entries.some(([k]) => !Number.isInteger(k) || k < 0)) {
    throw new ComboSegError(`labels: keys must be non-negative integers, got ${Object.keys(map).join(', ')}`, {
      code: 'invalid-input',
      path: 'labels',
    });
  }
  if (!entries.length) {
    throw new ComboSegError('labels: no organ labels (only background)', { code: 'invalid-input', path: 'labels' });
  }
  return { values: entries.map(([k]) => k), names: entries.map(([, n]) => n) };
}

/** One-hot [K, N] (channel-major) float32 from a label map of N voxels. */
export function oneHot(labels: ArrayLike<number>, values: number[]): Float32Array {
  const n = labels.length;
  const out = new Float32Array(values.length * n);
  const channel = new Map(values.map((v, k) => [v, k]));
  for (let i = 0; i < n; i++) {
    const k = channel.get(labels[i]);
    if (k !== undefined) out[k * n + i] = 1;
  }
  return out;
}

/**
 * A label map from per-organ probabilities [K, N]: each voxel takes the value of
 * the organ with the highest probability if that exceeds `threshold`, else 0
 * (where sigmoid masks overlap, the most probable organ wins).
 */
export function labelsFromProbabilities(
  probs: Float32Array,
  values: number[],
  threshold = 0.5,
): Uint8Array | Uint16Array {
  const K = values.length;
  const n = probs.length / K;
  if (!Number.isInteger(n)) {
    throw new ComboSegError(`labelsFromProbabilities: ${probs.length} values are not ${K} channels`, {
      code: 'invalid-input',
    });
  }
  const out = Math.max(...values) < 256 ? new Uint8Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let best = -1,
      bestP = threshold;
    for (let k = 0; k < K; k++) {
      const p = probs[k * n + i];
      if (p > bestP) {
        bestP = p;
        best = k;
      }
    }
    if (best >= 0) out[i] = values[best];
  }
  return out;
}

/** Voxel count per label value. */
export function labelCounts(labels: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  return counts;
}

/**
 * Checks training label maps against the organs a data set names: a value that is neither 0 nor
 * a named organ is an error listing the values and the cases holding them (unless
 * `ignoreUnnamed`, which trains them as background), and so is a training set in which every
 * map is empty (nothing to learn; the "best" model would score Dice 0).
 */
export function checkTrainingLabels(
  cases: readonly { id: string; labels: ArrayLike<number> }[],
  labels: LabelSet,
  o: { ignoreUnnamed?: boolean } = {},
): void {
  const named = new Set([0, ...labels.values]);
  const unnamed = new Map<number, string[]>();
  let foreground = 0;
  for (const c of cases) {
    for (const [value, count] of labelCounts(c.labels)) {
      if (!named.has(value)) unnamed.set(value, [...(unnamed.get(value) ?? []), c.id]);
      else if (value !== 0) foreground += count;
    }
  }
  if (unnamed.size && !o.ignoreUnnamed) {
    const list = [...unnamed.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([v, ids]) => `${v} (in ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? `, +${ids.length - 3} more` : ''})`);
    const names = labels.values.map((v, k) => `${v}:${labels.names[k]}`).join(', ');
    throw new ComboSegError(
      `label value(s) ${list.join('; ')} are not among the named organs (${names}); name them in labelNames, ` +
        'or set ignoreUnnamedLabels (--ignore-unnamed-labels) to train them as background',
      { code: 'invalid-input' },
    );
  }
  if (cases.length && foreground === 0) {
    throw new ComboSegError(
      `every training label map is empty: no voxel of ${labels.names.join(', ')} in ${cases.length} case(s); ` +
        'check the label files and labelNames',
      { code: 'invalid-input' },
    );
  }
}

/**
 * A one-hot training target for a label map: [K, N] (sigmoid) or [K + 1, N] with background first
 * (softmax). A value that is no organ (0, or one trained as background) is background in both.
 */
export function targetOf(layout: OutputLayout, labels: ArrayLike<number>, organs: number[]): Float32Array {
  if (layout === 'sigmoid') return oneHot(labels, organs);
  const n = labels.length;
  const out = new Float32Array((organs.length + 1) * n);
  const channel = new Map(organs.map((v, k) => [v, k + 1]));
  for (let i = 0; i < n; i++) out[(channel.get(labels[i]) ?? 0) * n + i] = 1;
  return out;
}
