// Segmentation inside the page (headless Chromium, onnxruntime-web): a model trained on real PET
// and exported to ONNX, a real PET scan from ../shared/data chosen as local files, segmented in the
// page, downloaded — the same labels as `predict --runtime onnx` in Node — and shown in the viewer.
// A file that is not a comboseg export gets a clear message in the page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serve, type RunningServer } from '../../src/server/server.js';
import { readVolume, writeVolume } from '../../src/data/io.js';
import { sameGrid } from '../../src/data/volume.js';
import { training } from '../../src/index.js';
import { SHARED_DATA, hasSharedData } from '../data/shared-data.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install chromium; scripts/setup.sh does it)`
  : !hasSharedData
    ? '../shared/data is absent: the in-page test segments a real PET scan'
    : false;
const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
const SCAN = join(SHARED_DATA, 'pet-sts/STS_003/PET_image.nii.gz');

let root: string, onnx: string, s: RunningServer | undefined, browser: Browser | undefined, page: Page;

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'comboseg-local-'));
  // A short training run on the real PET cases at their median spacing, exported to ONNX.
  await training.train(
    training.parseConfig({
      data: {
        cases: join(SHARED_DATA, 'pet-sts'),
        image: 'PET_image.nii.gz',
        label: 'PET_mask.nii.gz',
        labelNames: { 1: 'tumour' },
      },
      split: { validation: 0.1, seed: 0 },
      network: { name: 'proposed', options: { channels: [4, 8], outputBias: -1 } },
      loss: { name: 'combo', options: { beta: 0.5 } },
      sampler: { kind: 'whole', patchSize: 32 },
      spacing: 'median',
      batchSize: 1,
      epochs: 1,
      optimizer: { name: 'adam', lr: 0.01 },
      inference: { mode: 'window', stride: 16 },
      precision: 'fp32',
      out: join(root, 'runs', 'pet'),
    }),
  );
  onnx = join(root, 'pet.onnx');
  const r = spawnSync(process.execPath, [bin, 'export', '--model', join(root, 'runs', 'pet', 'best'), '--onnx', onnx]);
  assert.equal(r.status, 0, String(r.stderr));
  s = await serve({ root, port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-swiftshader'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page.on('pageerror', (e) => {
    throw e;
  });
});
after(async () => {
  await browser?.close();
  await s?.close();
});

async function segmentInPage(model: string, scan = SCAN): Promise<string> {
  await page.goto(s!.url);
  await page.locator('#local-model').setInputFiles(model);
  await page.locator('#local-scan').setInputFiles(scan);
  await page.locator('#local button[type=submit]').click();
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.local ?? ''), null, {
    timeout: 120_000,
  });
  return (await page.textContent('#local-stage')) ?? '';
}

test('a real PET scan segmented in the page equals predict --runtime onnx, and is shown', { skip }, async (t) => {
  const stage = await segmentInPage(onnx);
  assert.equal(await page.evaluate(() => document.body.dataset.local), 'done', stage);
  t.diagnostic(`in-page: ${stage}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#local-download').click()]);
  assert.equal(download.suggestedFilename(), 'PET_image_prediction.nii.gz');
  const inPage = join(root, 'in-page.nii.gz');
  await download.saveAs(inPage);
  const inNode = join(root, 'in-node.nii.gz');
  const r = spawnSync(process.execPath, [bin, 'predict', '--model', onnx, '-i', SCAN, '-o', inNode]);
  assert.equal(r.status, 0, String(r.stderr));
  const [a, b, scan] = [await readVolume(inPage), await readVolume(inNode), await readVolume(SCAN)];
  assert.ok(sameGrid(a, scan), "the download has the scan's geometry");
  let differ = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differ++;
  assert.equal(differ, 0, `${differ} voxel(s) differ from predict --runtime onnx`);
  assert.ok(new Set(a.data).size > 1, 'some tumour found and some background');
  await page.waitForSelector('body[data-viewer="ready"]');
  assert.match((await page.textContent('#legend')) ?? '', /tumour/);
});

test('a scan too large for the page: a clear message before any work, not a frozen tab', { skip }, async () => {
  // 512 × 512 × 400 voxels of zeros (a tiny .nii.gz): more than the page allows for its arrays.
  const big = join(root, 'big.nii.gz');
  const geo = { size: [512, 512, 400] as [number, number, number], spacing: [1, 1, 1] as [number, number, number] };
  await writeVolume(big, {
    ...geo,
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: new Uint8Array(512 * 512 * 400),
    pixelType: 'uint8',
  });
  const stage = await segmentInPage(onnx, big);
  assert.equal(await page.evaluate(() => document.body.dataset.local), 'error');
  assert.match(
    stage,
    /big\.nii\.gz: segmenting it here needs about [\d.]+ GiB, more than the 2\.0 GiB this page allows/,
  );
});

test('a model that is not a comboseg export: a clear message in the page', { skip }, async () => {
  const junk = join(root, 'junk.onnx');
  writeFileSync(junk, 'not a model');
  const stage = await segmentInPage(junk);
  assert.equal(await page.evaluate(() => document.body.dataset.local), 'error');
  assert.match(stage, /junk\.onnx: not an ONNX model/);
});
