// The viewer page in headless Chromium (WebGL2 through SwiftShader): open a
// run, watch its curves update live, open a case and see the overlay drawn,
// upload a scan, get its prediction back and read the download as NIfTI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { servedFolder, type ServedFolder } from './fixture.js';
import { serve, type RunningServer } from '../../src/server/server.js';
import { readVolume } from '../../src/data/io.js';
import { sameGrid } from '../../src/data/volume.js';
import { ERROR_COLOURS, organColour } from '../../src/data/palette.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent (apt-get install chromium; scripts/setup.sh does it)`;

let f: ServedFolder, s: RunningServer, page: Page;
let browser: Browser | undefined; // unset when skipped

before(async () => {
  if (skip) return;
  f = await servedFolder();
  s = await serve({ root: f.root, port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--enable-unsafe-swiftshader',
      '--use-angle=swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => {
    throw e;
  });
});
after(async () => {
  await browser?.close();
  await (s as RunningServer | undefined)?.close(); // unset when skipped
});

/** Pixels of the viewer canvas within `tol` of a colour, counted from a real screenshot decoded by the browser. */
async function countColour(rgb: [number, number, number], tol = 10): Promise<number> {
  const png = await page.locator('#viewer').screenshot();
  return page.evaluate(
    async ({ b64, rgb, tol }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol && Math.abs(d[i + 2] - rgb[2]) <= tol)
          n++;
      return n;
    },
    { b64: png.toString('base64'), rgb, tol },
  );
}

async function setControl(id: string, value: string): Promise<void> {
  await page.locator(`#${id}`).evaluate((el, v) => {
    (el as HTMLInputElement).value = v;
    el.dispatchEvent(new Event('input'));
  }, value);
  await page.waitForTimeout(300); // a few frames
}

test('open a run: curves, cases, and live updates while it trains', { skip }, async () => {
  await page.goto(s.url);
  await page.locator('#runs li[data-i]').first().click();
  await page.waitForSelector('#cases tr.case');
  assert.match((await page.textContent('#run-progress')) ?? '', /2 epochs/);
  const curves = await page.locator('#curves').evaluate((i: HTMLImageElement) => i.decode().then(() => i.naturalWidth));
  assert.ok(curves > 100, 'training curves drawn');
  // The run "trains on": a third epoch appears in metrics.jsonl; the page shows it without a reload.
  const jsonl = join(f.root, f.run, 'metrics.jsonl');
  const lines = readFileSync(jsonl, 'utf8').trim().split('\n');
  const next = { ...JSON.parse(lines[1]), epoch: 3, trainLoss: 0.0123, best: false };
  writeFileSync(jsonl, [...lines, JSON.stringify(next)].join('\n') + '\n');
  await page.waitForFunction(
    () => /3 epochs so far/.test(document.getElementById('run-progress')?.textContent ?? ''),
    null,
    { timeout: 10_000 },
  );
  assert.match((await page.textContent('#records')) ?? '', /0\.0123/);
  writeFileSync(jsonl, lines.join('\n') + '\n');
});

test('open a case: the ground truth is drawn in the organ colour, errors in the FP/FN colours', { skip }, async () => {
  await page.locator('#cases tr.case').first().click();
  await page.waitForSelector('body[data-viewer="ready"]', { timeout: 60_000 });
  await setControl('opacity', '1');
  await setControl('mode', 'none');
  const organ = organColour(1);
  const without = await countColour(organ);
  await setControl('mode', 'truth');
  const withTruth = await countColour(organ);
  assert.ok(
    withTruth > 50 && withTruth > 10 * (without + 1),
    `organ-coloured pixels: ${withTruth} with the overlay, ${without} without`,
  );
  // An undertrained model misses most of the organ: false negatives in their own colour.
  await setControl('mode', 'difference');
  const fn = await countColour(ERROR_COLOURS.falseNegative);
  assert.ok(fn > 20, `false-negative pixels: ${fn}`);
  assert.match((await page.textContent('#legend')) ?? '', /false positive.*false negative/);
  assert.match((await page.textContent('#case-metrics')) ?? '', /myocardium Dice/);
  await setControl('layout', 'render');
  await setControl('layout', 'multi');
  await page
    .locator('#viewer-wrap')
    .screenshot({ path: join(mkdtempSync(join(tmpdir(), 'comboseg-shot-')), 'viewer.png') });
});

test('upload a scan, segment it with a chosen model, download the prediction as NIfTI', { skip }, async () => {
  const scan = join(f.dataDir, 'imagesTr', readdirSync(join(f.dataDir, 'imagesTr')).sort()[3]);
  await page.locator('#upload-model').selectOption('runs/lv');
  await page.locator('#upload-file').setInputFiles(scan);
  await page.locator('#upload button[type=submit]').click();
  await page.waitForSelector('#job-download:not([hidden])', { timeout: 60_000 });
  await page.waitForSelector('body[data-viewer="ready"]');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#job-download').click()]);
  const out = join(mkdtempSync(join(tmpdir(), 'comboseg-dl-')), download.suggestedFilename());
  await download.saveAs(out);
  assert.match(download.suggestedFilename(), /_prediction\.nii\.gz$/);
  const pred = await readVolume(out);
  const input = await readVolume(scan);
  assert.ok(sameGrid(pred, input), "the prediction has the scan's geometry");
  assert.ok(
    [...pred.data].every((v) => v === 0 || v === 1),
    "a label map of the model's organs",
  );
});
