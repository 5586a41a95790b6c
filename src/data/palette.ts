// The one palette of every picture comboseg draws (run and experiment reports, the viewer page,
// DICOM SEG display colours), exported so users draw with the same colours.
//
// Errors are the three pure primaries a reader expects (false positive red, false negative blue,
// wrong organ yellow). Organs take 8 colours of Paul Tol's colour-blind-safe "light", "muted"
// and "vibrant" schemes and Okabe & Ito's, chosen to stay far from the errors: every organ colour
// is ≥ 69 ΔE*ab (CIELAB) from every error colour, and ≥ 26 under simulated protanopia,
// deuteranopia and tritanopia (Machado et al. 2009); greens and oranges, which red–green
// colour-blind readers see as the false-positive red, are left out. Past the eighth label the
// colours repeat, and the drawing tells organs from errors: organs are a translucent fill with a
// solid outline, errors a solid fill.

export type Rgb = [number, number, number];

/** Organ colours, label value 1, 2, … (repeating after 8). */
export const ORGAN_COLOURS: readonly Rgb[] = [
  [68, 187, 153], // mint (Tol light)
  [255, 170, 187], // pink (Tol light)
  [119, 170, 221], // light blue (Tol light)
  [170, 68, 153], // purple (Tol muted)
  [153, 221, 255], // light cyan (Tol light)
  [204, 102, 119], // rose (Tol muted)
  [0, 119, 187], // blue (Tol vibrant)
  [204, 121, 167], // reddish purple (Okabe & Ito)
];

/** @deprecated The name before palette.ts: ORGAN_COLOURS. */
export const LABEL_COLOURS = ORGAN_COLOURS;

export type ErrorKind = 'falsePositive' | 'falseNegative' | 'wrongOrgan';

/** Predicted where the truth is background; truth missed; a voxel of one organ given another. */
export const ERROR_COLOURS: Readonly<Record<ErrorKind, Rgb>> = {
  falsePositive: [255, 0, 0],
  falseNegative: [0, 0, 255],
  wrongOrgan: [255, 255, 0],
};

export const ERROR_NAMES: Readonly<Record<ErrorKind, string>> = {
  falsePositive: 'false positive',
  falseNegative: 'false negative',
  wrongOrgan: 'wrong organ',
};

/** The colour of label value `value` (≥ 1). */
export function organColour(value: number): Rgb {
  const c = ORGAN_COLOURS[(Math.max(1, Math.round(value)) - 1) % ORGAN_COLOURS.length];
  return [c[0], c[1], c[2]];
}

/** Opacity of an organ's fill over the image (its outline and every error are opaque). */
export const ORGAN_FILL_OPACITY = 0.35;

/** The grey window of PET in SUV: 0 to 10 g/mL, fixed so that scans compare by eye. */
export const SUV_WINDOW: readonly [number, number] = [0, 10];
