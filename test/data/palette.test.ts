// The palette and the pictures drawn with it: organ colours far from the error colours in CIELAB,
// the drawing that tells organs from errors past the eighth label, the difference codes, the
// pictures' size and aspect, the planes through a centre of mass, and the fixed SUV window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_COLOURS, ORGAN_COLOURS, ORGAN_FILL_OPACITY, organColour, type Rgb } from '../../src/data/palette.js';
import { centreOfMass, displayWindow, errorOverlay, fitZoom, sliceOverlay } from '../../src/data/overlay.js';
import { differenceLegend, differenceMap } from '../../src/data/difference.js';
import type { Vec3 } from '../../src/data/volume.js';

// CIELAB from sRGB (IEC 61966-2-1 transfer, D65 white), written out here from the CIE formulas.
function toLab([r, g, b]: Rgb): [number, number, number] {
  const lin = (c: number) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const X = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const f = (t: number) => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
}
const deltaE = (a: Rgb, b: Rgb) => Math.hypot(...toLab(a).map((v, i) => v - toLab(b)[i]));

test('the CIELAB conversion reproduces published values (sRGB red, and the issue’s two clashes)', () => {
  const red = toLab([255, 0, 0]);
  [53.24, 80.09, 67.2].forEach((v, i) => assert.ok(Math.abs(red[i] - v) < 0.02, `L*a*b* of red ${red}`));
  // The old palette's clashes as the issue measured them: 27 and 41.
  assert.equal(Math.round(deltaE([230, 25, 75], [255, 40, 40])), 27);
  assert.equal(Math.round(deltaE([0, 130, 200], [40, 120, 255])), 41);
});

// Colour-vision deficiency (Machado, Oliveira & Fernandes 2009, severity 1) on linear sRGB.
const CVD: Record<string, number[][]> = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};
function seenWith(m: number[][], c: Rgb): Rgb {
  const lin = c.map((v) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  const enc = (v: number) => {
    const x = Math.min(1, Math.max(0, v));
    return 255 * (x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055);
  };
  return m.map((row) => enc(row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2])) as Rgb;
}

test('every one of the first 8 organ colours is ≥ 50 ΔE*ab from every error colour (and apart in CVD)', (t) => {
  assert.equal(ORGAN_COLOURS.length, 8);
  let least = Infinity,
    leastCvd = Infinity;
  for (const [k, organ] of ORGAN_COLOURS.entries())
    for (const [name, error] of Object.entries(ERROR_COLOURS)) {
      const d = deltaE(organ, error);
      assert.ok(d >= 50, `organ ${k + 1} rgb(${organ}) vs ${name} rgb(${error}): ΔE ${d.toFixed(1)}`);
      least = Math.min(least, d);
      for (const [vision, m] of Object.entries(CVD)) {
        const dc = deltaE(seenWith(m, organ), seenWith(m, error));
        assert.ok(dc >= 20, `${vision}: organ ${k + 1} vs ${name}: ΔE ${dc.toFixed(1)}`);
        leastCvd = Math.min(leastCvd, dc);
      }
    }
  t.diagnostic(`least ΔE*ab organ–error ${least.toFixed(1)}; under simulated CVD ${leastCvd.toFixed(1)}`);
  const errors = Object.values(ERROR_COLOURS);
  for (let i = 0; i < errors.length; i++)
    for (let j = 0; j < i; j++) assert.ok(deltaE(errors[i], errors[j]) >= 50, 'the errors differ from each other');
});

// A 12×12×3 image of grey 100: organ 9 (colour of organ 1) predicted and true on a 6×6
// square, with a false positive 2×2 block inside the picture's right side and a wrong organ.
function scene(): { image: Float32Array; pred: Uint8Array; truth: Uint8Array; size: Vec3 } {
  const size: Vec3 = [12, 12, 3];
  const n = size[0] * size[1] * size[2];
  const image = new Float32Array(n).fill(100);
  image[0] = 0; // the grey range is 0–255, so 100 draws as grey 100
  image[1] = 255;
  const pred = new Uint8Array(n),
    truth = new Uint8Array(n);
  const at = (x: number, y: number, z: number) => (z * size[1] + y) * size[0] + x;
  for (let y = 2; y < 8; y++) for (let x = 2; x < 8; x++) pred[at(x, y, 1)] = truth[at(x, y, 1)] = 9;
  for (let y = 9; y < 11; y++) for (let x = 9; x < 11; x++) pred[at(x, y, 1)] = 9; // false positive
  truth[at(10, 2, 1)] = 2; // an organ predicted as another
  pred[at(10, 2, 1)] = 3;
  return { image, pred, truth, size };
}

test('past the eighth label organs stay told from errors by the drawing: outline + translucent fill vs solid', () => {
  assert.deepEqual(organColour(9), organColour(1), 'colours repeat after 8');
  const { image, pred, truth, size } = scene();
  const p = errorOverlay(image, pred, truth, size, [1, 1, 1], 'axial', 1, { zoom: 1 });
  const px = (x: number, y: number) => [...p.rgb.subarray((y * p.width + x) * 3, (y * p.width + x) * 3 + 3)];
  const c = organColour(9);
  assert.deepEqual(px(2, 4), c, 'the organ’s outline: its colour, opaque');
  const g = 100;
  const fill = c.map((v) => Math.round(g * (1 - ORGAN_FILL_OPACITY) + v * ORGAN_FILL_OPACITY));
  assert.deepEqual(px(4, 4), fill, 'its inside: translucent over the grey');
  assert.deepEqual(px(9, 9), ERROR_COLOURS.falsePositive, 'a false positive: solid, edge');
  assert.deepEqual(px(10, 10), ERROR_COLOURS.falsePositive, 'and solid inside too');
  assert.deepEqual(px(10, 2), ERROR_COLOURS.wrongOrgan, 'a wrong organ has its own colour');
  assert.deepEqual(px(0, 11), [g, g, g], 'background: the image in grey');
  // Label overlays draw organs the same way.
  const l = sliceOverlay(image, truth, size, [1, 1, 1], 'axial', 1, { zoom: 1 });
  assert.deepEqual([...l.rgb.subarray((4 * 12 + 2) * 3, (4 * 12 + 2) * 3 + 3)], c);
});

test('the difference codes: errors 1–3, agreement on organ v as 3 + v, uint16 past 252', () => {
  assert.deepEqual([...differenceMap([0, 1, 1, 0, 2, 3], [0, 1, 0, 1, 1, 3])], [0, 4, 1, 2, 3, 6]);
  const big = differenceMap([300, 0], [300, 0]);
  assert.ok(big instanceof Uint16Array);
  assert.deepEqual([...big], [303, 0]);
  const legend = differenceLegend([
    { value: 2, name: 'liver' },
    { value: 4, name: 'spleen' },
  ]);
  assert.deepEqual(
    legend.map((e) => [e.value, e.name, e.rgb, e.solid]),
    [
      [5, 'liver (agreement)', organColour(2), false],
      [7, 'spleen (agreement)', organColour(4), false],
      [1, 'false positive', ERROR_COLOURS.falsePositive, true],
      [2, 'false negative', ERROR_COLOURS.falseNegative, true],
      [3, 'wrong organ', ERROR_COLOURS.wrongOrgan, true],
    ],
  );
  const one = differenceLegend([{ value: 1, name: 'tumour' }]).map((e) => e.name);
  assert.deepEqual(one, ['tumour (agreement)', 'false positive', 'false negative'], 'one organ: no wrong organ');
});

test('pictures are ≥ 256 px on their long side with the voxels’ aspect from the spacing', () => {
  const size: Vec3 = [48, 40, 20],
    spacing: Vec3 = [0.8, 0.8, 3.2];
  const n = 48 * 40 * 20;
  const zero = new Uint8Array(n);
  for (const axis of ['axial', 'coronal', 'sagittal'] as const) {
    const p = errorOverlay(new Float32Array(n), zero, zero, size, spacing, axis, 5);
    assert.ok(Math.max(p.width, p.height) >= 256, `${axis}: ${p.width}×${p.height}`);
    const [mmW, mmH] = axis === 'axial' ? [48 * 0.8, 40 * 0.8] : axis === 'coronal' ? [48 * 0.8, 64] : [32, 64];
    assert.ok(Math.abs(p.width / p.height - mmW / mmH) < 0.02, `${axis}: aspect ${p.width / p.height} vs ${mmW / mmH}`);
  }
  assert.equal(fitZoom([48, 48, 48], [1, 1, 1], 'axial'), 6, '48 voxels → 288 px');
  assert.equal(fitZoom([512, 512, 40], [1, 1, 1], 'axial'), 1);
});

test('the centre of mass: the voxel nearest the mean position; none for an empty mask', () => {
  const size: Vec3 = [10, 10, 10];
  const on = new Set([0, 9, 9 * 100 + 9 * 10]); // (0,0,0), (9,0,0), (0,9,9)
  assert.deepEqual(
    centreOfMass(size, (i) => on.has(i)),
    [3, 3, 3],
  );
  assert.equal(
    centreOfMass(size, () => false),
    null,
  );
});

test('PET in SUV is shown in a fixed 0–10 window, whatever its largest value', () => {
  const size: Vec3 = [4, 4, 1];
  const image = new Float32Array(16).fill(5);
  image[15] = 40; // a hot spot far above the window
  const window = displayWindow({ units: 'SUV' });
  assert.deepEqual(window, [0, 10]);
  const p = sliceOverlay(image, null, size, [1, 1, 1], 'axial', 0, { zoom: 1, window });
  assert.deepEqual([...p.rgb.subarray(0, 3)], [128, 128, 128], 'SUV 5 is mid-grey');
  assert.equal(displayWindow({}), undefined, 'other images: their own range');
});
