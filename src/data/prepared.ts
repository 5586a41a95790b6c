// A patch made ready for the network: its image scaled per patch (the paper's min–max, when asked) and its
// one-hot target in the loss's layout, as flat arrays. Pure (no engine): the pipeline's workers make these,
// and the main thread only copies them into a batch.
import type { OutputLayout } from '../losses/layout.js';
import type { Patch } from './crop.js';
import { targetOf } from './labels.js';
import { minMaxChannelsInPlace } from './normalise.js';
import type { Vec3 } from './volume.js';

export interface PreparedPatch {
  caseId: string;
  kind: Patch['kind'];
  size: Vec3;
  channels: number;
  /** [C, z, y, x], scaled per patch when asked. */
  image: Float32Array;
  /** [K, z, y, x] in the output layout. */
  target: Float32Array;
}

export interface PrepareOptions {
  organs: number[];
  perPatchMinMax: boolean;
  layout: OutputLayout;
}

export function preparePatch(p: Patch, o: PrepareOptions): PreparedPatch {
  const C = p.channels ?? 1;
  const image = o.perPatchMinMax ? minMaxChannelsInPlace(Float32Array.from(p.image), C) : p.image;
  const target = targetOf(o.layout, p.labels, o.organs);
  return { caseId: p.caseId, kind: p.kind, size: p.size, channels: C, image, target };
}
