// A run report rendered by Chromium, read back by pixel colour: each legend entry's colour (taken
// from the screenshot, not the source) appears in the overlays exactly where the data says that
// voxel is an organ's agreement, a false positive, a false negative or a wrong organ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { writeRunReport } from '../../src/experiments/report.js';
import { MetricsAccumulator, evaluateCase } from '../../src/metrics/evaluate.js';
import type { Vec3, Volume } from '../../src/data/volume.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent (apt-get install chromium; scripts/setup.sh does it)`;

const SIZE: Vec3 = [40, 36, 24],
  SPACING: Vec3 = [1, 1, 2];
const at = (x: number, y: number, z: number) => (z * SIZE[1] + y) * SIZE[0] + x;

/** Two box organs; the prediction shifts organ 1 by 3 voxels in x (a false positive and a false negative slab) and
 * calls the top of organ 2 organ 1 (wrong organ). The image is a smooth ramp of greys. */
function scene(): { image: Volume; pred: Volume; truth: Volume } {
  const n = SIZE[0] * SIZE[1] * SIZE[2];
  const img = new Float32Array(n),
    pred = new Uint8Array(n),
    truth = new Uint8Array(n);
  for (let z = 0; z < SIZE[2]; z++)
    for (let y = 0; y < SIZE[1]; y++)
      for (let x = 0; x < SIZE[0]; x++) {
        const i = at(x, y, z);
        img[i] = x + y;
        const inZ = z >= 6 && z < 18;
        if (inZ && y >= 8 && y < 20 && x >= 6 && x < 18) truth[i] = 1;
        if (inZ && y >= 8 && y < 20 && x >= 9 && x < 21) pred[i] = 1;
        if (inZ && y >= 10 && y < 22 && x >= 26 && x < 34) {
          truth[i] = 2;
          pred[i] = y < 13 ? 1 : 2;
        }
      }
  const geo = { size: SIZE, spacing: SPACING, origin: [0, 0, 0] as Vec3, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  return {
    image: { ...geo, data: img, pixelType: 'float32' },
    pred: { ...geo, data: pred, pixelType: 'uint8' },
    truth: { ...geo, data: truth, pixelType: 'uint8' },
  };
}

/** RGB of screenshot pixels at page coordinates, decoded by the browser. */
async function pixelsAt(page: Page, points: [number, number][]): Promise<number[][]> {
  const png = await page.screenshot({ fullPage: true });
  return page.evaluate(
    async ({ b64, points }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return points.map(([x, y]) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)]);
    },
    { b64: png.toString('base64'), points },
  );
}

type Kind = 'liver (agreement)' | 'false positive' | 'false negative' | 'wrong organ';

/** A voxel of the plane that the data says is `kind`; organs: on the organ's in-plane border (drawn opaque). */
function voxelOf(kind: Kind, axis: string, index: number, s: ReturnType<typeof scene>): [number, number] | null {
  const [du, dv] = axis === 'axial' ? [0, 1] : axis === 'coronal' ? [0, 2] : [1, 2];
  const coord = (u: number, v: number) => {
    const c = [index, index, index];
    c[du] = u;
    c[dv] = v;
    return c as Vec3;
  };
  const is = (u: number, v: number): boolean => {
    if (u < 0 || v < 0 || u >= SIZE[du] || v >= SIZE[dv]) return false;
    const i = at(...coord(u, v));
    const [p, t] = [s.pred.data[i], s.truth.data[i]];
    if (kind === 'liver (agreement)') return p === 1 && t === 1;
    if (kind === 'false positive') return p > 0 && t === 0;
    if (kind === 'false negative') return p === 0 && t > 0;
    return p > 0 && t > 0 && p !== t;
  };
  for (let v = 0; v < SIZE[dv]; v++)
    for (let u = 0; u < SIZE[du]; u++) {
      if (!is(u, v)) continue;
      const border = !is(u - 1, v) || !is(u + 1, v) || !is(u, v - 1) || !is(u, v + 1);
      if (kind !== 'liver (agreement)' || border) return [u, v];
    }
  return null;
}

test('report.html: each legend colour appears in the overlays where the data puts that outcome', { skip }, async () => {
  const s = scene();
  const labels = { values: [1, 2], names: ['liver', 'kidney'] };
  const metrics = evaluateCase('case_1', s.pred, s.truth, labels);
  const acc = new MetricsAccumulator();
  acc.add(metrics);
  const path = join(mkdtempSync(join(tmpdir(), 'comboseg-colours-')), 'report.html');
  await writeRunReport({
    path,
    title: 'colours',
    description: 'a synthetic case with every outcome',
    labels,
    summary: acc.summary(),
    cases: [{ id: 'case_1', ...s, metrics }],
    records: [],
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(path).href);
    // Legend colours from the screenshot: organs at their key's opaque border, errors at its centre.
    const keys = await page.$$eval('.legend .entry', (es) =>
      es.map((e) => {
        const r = e.querySelector('.key')!.getBoundingClientRect();
        return { name: e.getAttribute('data-entry')!, x: r.x + window.scrollX, y: r.y + window.scrollY, w: r.width };
      }),
    );
    const kinds: Kind[] = ['liver (agreement)', 'false positive', 'false negative', 'wrong organ'];
    const legendAt = kinds.map((k): [number, number] => {
      const key = keys.find((e) => e.name === k);
      assert.ok(key, `legend entry '${k}' (have: ${keys.map((e) => e.name).join(', ')})`);
      return k === 'liver (agreement)' ? [key.x + 1, key.y + key.w / 2] : [key.x + key.w / 2, key.y + key.w / 2];
    });
    const legend = await pixelsAt(page, legendAt);
    const imgs = await page.$$eval('section[data-case] img', (is) =>
      is.map((i) => {
        const r = i.getBoundingClientRect();
        const im = i as HTMLImageElement;
        return {
          axis: i.getAttribute('data-axis')!,
          index: Number(i.getAttribute('data-index')),
          x: r.x + window.scrollX,
          y: r.y + window.scrollY,
          w: im.naturalWidth,
          h: im.naturalHeight,
          shownW: r.width,
        };
      }),
    );
    assert.equal(imgs.length, 6, 'two rows (organ, errors) of three planes');
    const checks: { kind: Kind; where: string; point: [number, number] }[] = [];
    for (const im of imgs) {
      assert.ok(Math.max(im.w, im.h) >= 256, `${im.axis}: ${im.w}×${im.h} px`);
      assert.equal(im.shownW, im.w, 'shown at its own size');
      const [du, dv] = im.axis === 'axial' ? [0, 1] : im.axis === 'coronal' ? [0, 2] : [1, 2];
      const [su, sv] = [im.w / SIZE[du], im.h / SIZE[dv]];
      for (const kind of kinds) {
        const uv = voxelOf(kind, im.axis, im.index, s);
        if (!uv) continue;
        const row = im.axis === 'axial' ? uv[1] : SIZE[dv] - 1 - uv[1]; // coronal, sagittal: z up
        const point: [number, number] = [Math.floor(im.x + (uv[0] + 0.5) * su), Math.floor(im.y + (row + 0.5) * sv)];
        checks.push({ kind, where: `${im.axis} ${im.index} voxel (${uv})`, point });
      }
    }
    for (const k of kinds)
      assert.ok(
        checks.some((c) => c.kind === k),
        `some plane shows ${k}`,
      );
    const seen = await pixelsAt(
      page,
      checks.map((c) => c.point),
    );
    checks.forEach((c, i) => {
      const want = legend[kinds.indexOf(c.kind)];
      const close = seen[i].every((v, j) => Math.abs(v - want[j]) <= 3);
      assert.ok(close, `${c.kind} at ${c.where}: pixel rgb(${seen[i]}), legend rgb(${want})`);
    });
    // The four legend colours are four different colours.
    assert.equal(new Set(legend.map((c) => c.join(','))).size, 4, `legend colours ${legend.join(' | ')}`);
  } finally {
    await browser.close();
  }
});
