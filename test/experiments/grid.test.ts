// A small grid (2 networks × 3 losses × 1 seed) on tiny data: runs end to end,
// resumes without re-running finished cells, and its tables come from results.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { data, experiments } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-grid-'));
await data.writeSyntheticDataset({ kind: 'echo-lv', out: join(root, 'data'), cases: 5, seed: 2, size: [16, 16, 16] });
const config = {
  base: {
    data: { msd: join(root, 'data') },
    split: { validation: 0.2, test: 0.2, seed: 0 },
    sampler: { kind: 'whole', patchSize: 16 },
    batchSize: 2, epochs: 2,
    optimizer: { name: 'adam', lr: 0.01 },
    inference: { mode: 'window', stride: 8 },
  },
  networks: [{ name: 'proposed', options: { channels: [4, 8] } }, { name: 'unet3d', options: { channels: [2, 4] } }],
  losses: [{ name: 'combo', options: { beta: 0.6 } }, { name: 'dice' }, { name: 'bce' }],
  seeds: [0],
  out: join(root, 'grid'),
};

test('experiment grid: every cell trained and evaluated; results.json and report.md agree', async () => {
  const states: string[] = [];
  const results = await experiments.runExperiment(config, { onCell: (_c, _i, _n, s) => states.push(s) });
  assert.equal(results.length, 6);
  assert.deepEqual(states.filter((s) => s === 'started').length, 6);
  const json = JSON.parse(readFileSync(join(config.out, 'results.json'), 'utf8'));
  assert.deepEqual(json.cells.map((c: experiments.CellResult) => c.id), results.map((c) => c.id));
  for (const c of json.cells) assert.ok(typeof c.summary.overall.dice.mean === 'number' && c.cases.length === 1 && c.records.length === 2);
  // The tables are a function of results.json alone.
  const md = experiments.experimentMarkdown('t', json.cells);
  assert.equal(md, experiments.experimentMarkdown('t', results));
  for (const c of json.cells) assert.ok(md.includes(experiments.formatStat(c.summary.overall.dice, 3)), `${c.id} Dice in the table`);
  const csv = readFileSync(join(config.out, 'results.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 6 * 2, 'header + (organ + all organs) per cell');
  const diceCol = csv[0].split(',').indexOf('dice_mean');
  const allRow = csv.find((l) => l.startsWith(json.cells[0].id) && l.includes('all organs'))!.split(',');
  assert.equal(Number(allRow[diceCol]), json.cells[0].summary.overall.dice.mean, 'CSV holds the results.json numbers');
  const imp = experiments.improvements(json.cells, 'combo');
  assert.equal(imp.length, 4, 'each network: combo against dice and bce');
});

test('an interrupted grid picks up where it stopped, never re-running a finished cell', async () => {
  const ids = experiments.cells(experiments.parseExperiment(config)).map((c) => c.id);
  const lastResult = join(config.out, 'cells', ids[5], 'result.json');
  const firstResult = join(config.out, 'cells', ids[0], 'result.json');
  const before = readFileSync(firstResult, 'utf8');
  rmSync(lastResult); // as if stopped after training the last cell, before its evaluation was saved
  rmSync(join(config.out, 'results.json'));
  const states: string[] = [];
  await experiments.runExperiment(config, { onCell: (_c, _i, _n, s) => states.push(s) });
  assert.deepEqual(states, ['skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'resumed', 'done']);
  assert.equal(readFileSync(firstResult, 'utf8'), before, 'finished cells untouched');
  assert.ok(existsSync(lastResult) && existsSync(join(config.out, 'results.json')));
});

test('comboseg experiment writes report.md; bad configurations name the field', () => {
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const cfgPath = join(root, 'grid.json');
  writeFileSync(cfgPath, JSON.stringify(config));
  const out = execFileSync(process.execPath, [bin, 'experiment', '--config', cfgPath], { encoding: 'utf8' });
  assert.match(out, /\| network \| loss \| seed \| Jaccard \| Dice \| FPR \| FNR \| HD95 \(mm\) \|/);
  for (const f of ['report.md', 'report.html', 'results.json', 'figures/dice-boxplot.svg', 'figures/dice-boxplot.png', 'figures/hd95-boxplot.png', 'figures/convergence.png', 'figures/overlay-best.png']) {
    assert.ok(existsSync(join(config.out, f)), f);
  }
  const png = readFileSync(join(config.out, 'figures/dice-boxplot.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  const html = readFileSync(join(config.out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 3, 'three plots inline');
  assert.ok((html.match(/<img [^>]*src="data:image\/png;base64,/g) ?? []).length >= 1, 'overlays embedded');
  assert.doesNotMatch(html, /src="figures\//, 'self-contained: no external image links');
  assert.throws(() => experiments.parseExperiment({ ...config, networks: [] }), /networks: Array must contain at least 1 element/);
  assert.throws(() => experiments.parseExperiment({ ...config, losses: [], sweep: undefined }), /give "losses", a "sweep", or both/);
  const swept = experiments.cells(experiments.parseExperiment({ ...config, losses: [], sweep: { loss: 'combo', option: 'beta', values: [0.3, 0.7] } }));
  assert.deepEqual(swept.map((c) => c.loss.label), ['combo beta=0.3', 'combo beta=0.7', 'combo beta=0.3', 'combo beta=0.7']);
});

test('the β-sweep verdict says plainly whether FPR falls and FNR rises as β falls', () => {
  const stat = (mean: number) => ({ mean, std: 0, n: 1, missing: 0 });
  const cell = (beta: number, fpr: number, fnr: number) => ({
    id: `b${beta}`, network: { name: 'proposed', options: {}, label: 'proposed' }, loss: { name: 'combo', options: { beta }, label: `combo beta=${beta}` }, seed: 0,
    summary: { perOrgan: {}, overall: { dice: stat(0.8), jaccard: stat(0.7), fpr: stat(fpr), fdr: stat(0.1), fnr: stat(fnr), hd: stat(5), hd95: stat(4), assd: stat(1) }, cases: 1 },
    cases: [], records: [], bestEpoch: 1,
  }) as unknown as experiments.CellResult;
  const holds = experiments.betaTrend([cell(0.3, 0.001, 0.3), cell(0.5, 0.002, 0.2), cell(0.7, 0.004, 0.1)]);
  assert.match(holds[0], /FPR rose in 2\/2 steps and FNR fell in 2\/2: the paper's trend holds at every step/);
  const not = experiments.betaTrend([cell(0.3, 0.004, 0.1), cell(0.7, 0.001, 0.3)]);
  assert.match(not[0], /does NOT hold/);
});
