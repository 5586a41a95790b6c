// Renders docs/phantoms.png: one slice of one case of each synthetic kind, with
// the labels outlined. Run: node --import tsx scripts/phantom-figure.ts
import { writeFileSync } from 'node:fs';
import { phantomCase, sliceOverlay, type PhantomKind, type SliceAxis } from '../src/data/index.js';
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
const gap = 8;
const height = Math.max(...images.map((i) => i.height));
const width = images.reduce((a, i) => a + i.width, 0) + gap * (images.length - 1);
const rgb = new Uint8Array(width * height * 3).fill(255);
let x0 = 0;
for (const img of images) {
  for (let y = 0; y < img.height; y++)
    rgb.set(img.rgb.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * width + x0) * 3);
  x0 += img.width + gap;
}
writeFileSync(new URL('../docs/phantoms.png', import.meta.url), encodePng(rgb, width, height));
console.log(`docs/phantoms.png: ${width} × ${height}`);
