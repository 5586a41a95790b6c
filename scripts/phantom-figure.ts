// Renders docs/phantoms.png: one slice of one case of each synthetic kind, with
// the labels outlined. Run: node --import tsx scripts/phantom-figure.ts
import { writeFileSync } from 'node:fs';
import { phantomCase, sideBySide, sliceOverlay, type PhantomKind, type SliceAxis } from '../src/data/index.js';
import { encodePng } from '../src/util/png.js';

const panels: [PhantomKind, SliceAxis, (size: number[]) => number][] = [
  ['pet', 'coronal', (s) => Math.round(0.45 * s[1])],
  ['mri-prostate', 'axial', (s) => Math.round(0.45 * s[2])],
  ['echo-lv', 'coronal', (s) => Math.round(0.5 * s[1])],
];
const images = panels.map(([kind, axis, pick]) => {
  const p = phantomCase(kind, 0, 0);
  return sliceOverlay(p.image, p.labels, p.size, p.spacing, axis, pick(p.size), {
    zoom: kind === 'mri-prostate' ? 1 : 2,
  });
});
const { rgb, width, height } = sideBySide(images, 8);
writeFileSync(new URL('../docs/phantoms.png', import.meta.url), encodePng(rgb, width, height));
console.log(`docs/phantoms.png: ${width} × ${height}`);
