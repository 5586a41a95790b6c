import type { Vec3 } from '../volume.js';

/** One synthetic case: image, label map (0 = background, k = organ k), grid. */
export interface Phantom {
  image: Float32Array;
  labels: Uint8Array;
  size: Vec3;
  /** mm, x y z. */
  spacing: Vec3;
  /** Organ names for labels 1..K. */
  names: string[];
  modality: string;
}
