// In-page segmentation time: the demo network (proposed, 8-16-32-64, 5 organs) exported to ONNX,
// a 128 × 128 × 128 volume segmented in headless Chromium by onnxruntime-web (wasm; WebGPU when the
// browser has an adapter), against onnxruntime-node and libtorch (fp32) on the same volume in the
// same run. One pass over the whole volume (what the page picks for it) and the sliding window.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { create } from '../src/networks/registry.js';
import { ModelMetaSchema } from '../src/inference/model-meta.js';
import { exportOnnx } from '../src/export/onnx.js';
import { writeVolume } from '../src/data/io.js';
import { predictVolume } from '../src/inference/predict.js';
import { loadOnnxModel } from '../src/inference/onnx-session.js';
import { predictPortable } from '../src/inference/portable.js';
import { serve } from '../src/server/server.js';
import type { Volume } from '../src/data/volume.js';

const CHROMIUM = '/usr/bin/chromium';

function demoModel(mode: 'whole' | 'window') {
  const net = create('proposed', { channels: [8, 16, 32, 64], inChannels: 1, outChannels: 5, seed: 1, outputBias: -4 });
  net.eval();
  const meta = ModelMetaSchema.parse({
    network: 'proposed',
    options: net.options,
    labels: { values: [1, 2, 3, 4, 5], names: ['brain', 'heart', 'left kidney', 'right kidney', 'bladder'] },
    normalisation: { kind: 'minmax', min: 0, max: 20 },
    perPatchMinMax: false,
    patchSize: [48, 48, 112],
    inference: { mode, stride: [24, 24, 56], aggregation: 'max' },
    epoch: 0,
    validationDice: null,
  });
  return { net, meta };
}

function volume128(): Volume {
  const n = 128 ** 3;
  const data = Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000) / 100);
  return {
    size: [128, 128, 128],
    spacing: [2, 2, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
    pixelType: 'float32',
  };
}

async function inPage(url: string, model: string, scan: string): Promise<string> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--enable-unsafe-swiftshader'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('#local-model').setInputFiles(model);
    await page.locator('#local-scan').setInputFiles(scan);
    await page.locator('#local button[type=submit]').click();
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.local ?? ''), null, {
      timeout: 240_000,
    });
    return (await page.textContent('#local-stage')) ?? '';
  } finally {
    await browser.close();
  }
}

export async function onnxWebBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-onnx-web-'));
  const scanPath = join(dir, 'scan128.nii.gz');
  const scan = volume128();
  await writeVolume(scanPath, scan);
  const server = await serve({ root: dir, port: 0 });
  console.log('\nin-page segmentation, demo network (proposed 8-16-32-64, 5 organs), 128³ volume, fp32:');
  try {
    for (const mode of ['whole', 'window'] as const) {
      const { net, meta } = demoModel(mode);
      const onnxPath = join(dir, `demo-${mode}.onnx`);
      writeFileSync(onnxPath, exportOnnx(net, meta));
      let t = performance.now();
      predictVolume(net, meta, scan);
      const torchS = (performance.now() - t) / 1000;
      const ort = await loadOnnxModel(onnxPath);
      t = performance.now();
      await predictPortable(ort, scan);
      const nodeS = (performance.now() - t) / 1000;
      await ort.release();
      net.dispose();
      const page = await inPage(server.url, onnxPath, scanPath);
      const label = mode === 'whole' ? 'one pass' : 'sliding window 48×48×112, stride 24×24×56';
      console.log(`  ${label}: page ${page}`);
      console.log(
        `    onnxruntime-node ${nodeS.toFixed(1)} s, libtorch ${torchS.toFixed(1)} s (same machine, same run)`,
      );
    }
  } finally {
    await server.close();
  }
}
