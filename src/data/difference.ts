// A prediction against the truth, voxel by voxel: agreement on an organ, or which error. One
// classification for the reports' pictures and the viewer's difference volume, drawn in
// ./palette.ts's colours.
import { ERROR_COLOURS, ERROR_NAMES, organColour, type ErrorKind, type Rgb } from './palette.js';

/** Codes of the difference volume: 0 background in both, the errors 1–3, agreement on organ v: 3 + v. */
export const DIFFERENCE_CODES: Readonly<Record<ErrorKind, number>> = {
  falsePositive: 1,
  falseNegative: 2,
  wrongOrgan: 3,
};
const AGREEMENT_BASE = 3;

/** What a voxel predicted `p` with truth `t` is: 'background', an error kind, or agreement on organ `p`. */
export function voxelOutcome(p: number, t: number): 'background' | 'agreement' | ErrorKind {
  if (p === t) return p ? 'agreement' : 'background';
  return !t ? 'falsePositive' : !p ? 'falseNegative' : 'wrongOrgan';
}

/** The difference volume's code of a voxel (see DIFFERENCE_CODES). */
export function differenceCode(p: number, t: number): number {
  const o = voxelOutcome(p, t);
  return o === 'background' ? 0 : o === 'agreement' ? AGREEMENT_BASE + p : DIFFERENCE_CODES[o];
}

/** The difference volume of a prediction (uint8, or uint16 when an organ's value is past 252). */
export function differenceMap(pred: ArrayLike<number>, truth: ArrayLike<number>): Uint8Array | Uint16Array {
  if (pred.length !== truth.length) throw new RangeError(`differenceMap: ${pred.length} vs ${truth.length} voxels`);
  let top = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] > top) top = pred[i];
  const out = AGREEMENT_BASE + top > 255 ? new Uint16Array(pred.length) : new Uint8Array(pred.length);
  for (let i = 0; i < out.length; i++) out[i] = differenceCode(pred[i], truth[i]);
  return out;
}

export interface LegendEntry {
  /** The code in a difference volume, or the label value in a label map. */
  value: number;
  name: string;
  rgb: Rgb;
  /** Organs: false (translucent fill, solid outline); errors: true (opaque fill). */
  solid: boolean;
}

/** The legend of a difference view: each organ's agreement in its colour, then the errors (wrong organ only with
 * several organs). */
export function differenceLegend(organs: readonly { value: number; name: string }[]): LegendEntry[] {
  return [
    ...organs.map((o) => ({
      value: AGREEMENT_BASE + o.value,
      name: `${o.name} (agreement)`,
      rgb: organColour(o.value),
      solid: false,
    })),
    ...(Object.keys(DIFFERENCE_CODES) as ErrorKind[])
      .filter((k) => k !== 'wrongOrgan' || organs.length > 1)
      .map((k) => ({
        value: DIFFERENCE_CODES[k],
        name: ERROR_NAMES[k],
        rgb: ERROR_COLOURS[k],
        solid: true,
      })),
  ];
}
