// The experiment report opens from disk in headless Chromium and every image loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { data, experiments } from '../../src/index.js';

const CHROMIUM = '/usr/bin/chromium';

test(
  'report.html renders in Chromium: every image and plot loads',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium; scripts/setup.sh does it)` },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'comboseg-report-'));
    await data.writeSyntheticDataset({
      kind: 'echo-lv',
      out: join(root, 'data'),
      cases: 4,
      seed: 5,
      size: [16, 16, 16],
    });
    const config = {
      base: {
        data: { msd: join(root, 'data') },
        split: { validation: 0.25, test: 0.25, seed: 0 },
        sampler: { kind: 'whole', patchSize: 16 },
        batchSize: 1,
        epochs: 2,
        optimizer: { name: 'adam', lr: 0.01 },
        inference: { mode: 'whole' },
      },
      networks: [{ name: 'proposed', options: { channels: [4, 8] } }],
      losses: [],
      sweep: { loss: 'combo', option: 'beta', values: [0.3, 0.7] },
      seeds: [0],
      out: join(root, 'exp'),
    };
    const cfg = experiments.parseExperiment(config);
    const results = await experiments.runExperiment(cfg);
    await experiments.writeExperimentReport(cfg, cfg.out, results);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--enable-unsafe-swiftshader',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(join(cfg.out, 'report.html')).href);
      const images = await page.$$eval('img', (imgs) =>
        imgs.map((i) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.alt })),
      );
      assert.ok(images.length >= 1, 'overlays present');
      for (const i of images) assert.ok(i.ok, `image loads: ${i.alt}`);
      const plots = await page.$$eval('svg.marks', (s) => s.map((e) => e.getBoundingClientRect().width));
      assert.equal(plots.length, 4, 'Dice and HD95 box plots, convergence and β curves');
      assert.ok(
        plots.every((w) => w > 100),
        'plots laid out',
      );
      assert.match((await page.textContent('body')) ?? '', /Does beta move the balance\?/);
    } finally {
      await browser.close();
    }
  },
);
