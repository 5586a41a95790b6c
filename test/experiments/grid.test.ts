// A small grid (2 networks × 3 losses × 1 seed) on tiny data: runs end to end,
// resumes without re-running finished cells, and its tables come from results.json.
// Cells are keyed by their resolved configuration (an edit retrains, an unchanged rerun
// reuses), and every cell and the data are checked before the first one trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError, data, experiments } from '../../src/index.js';
import { FolderLock } from '../../src/util/lock.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-grid-'));
await data.writeSyntheticDataset({ kind: 'echo-lv', out: join(root, 'data'), cases: 5, seed: 2, size: [16, 16, 16] });
const config = {
  base: {
    data: { msd: join(root, 'data') },
    split: { validation: 0.2, test: 0.2, seed: 0 },
    sampler: { kind: 'whole', patchSize: 16 },
    batchSize: 2,
    epochs: 2,
    optimizer: { name: 'adam', lr: 0.01 },
    inference: { mode: 'window', stride: 8 },
  },
  networks: [
    { name: 'proposed', options: { channels: [4, 8] } },
    { name: 'unet3d', options: { channels: [2, 4] } },
  ],
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
  assert.deepEqual(
    json.cells.map((c: experiments.CellResult) => c.id),
    results.map((c) => c.id),
  );
  for (const c of json.cells) {
    assert.ok(typeof c.summary.overall.dice.mean === 'number' && c.cases.length === 1 && c.records.length === 2);
    assert.match(c.configHash, /^[0-9a-f]{8}$/);
    assert.equal(c.id, `${c.name}__${c.configHash}`, 'the id carries the configuration hash');
  }
  assert.equal(new Set(json.cells.map((c: experiments.CellResult) => c.configHash)).size, 6);
  // The tables are a function of results.json alone.
  const md = experiments.experimentMarkdown('t', json.cells);
  assert.equal(md, experiments.experimentMarkdown('t', results));
  for (const c of json.cells)
    assert.ok(md.includes(experiments.formatStat(c.summary.overall.dice, 3)), `${c.id} Dice in the table`);
  const csv = readFileSync(join(config.out, 'results.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 6 * 2, 'header + (organ + all organs) per cell');
  const diceCol = csv[0].split(',').indexOf('dice_mean');
  const allRow = csv.find((l) => l.startsWith(json.cells[0].id) && l.includes('all organs'))!.split(',');
  assert.equal(Number(allRow[diceCol]), json.cells[0].summary.overall.dice.mean, 'CSV holds the results.json numbers');
  assert.equal(allRow[csv[0].split(',').indexOf('config')], json.cells[0].configHash);
  assert.ok(md.includes(`| ${json.cells[0].configHash} |`), 'the grid table has a config column');
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

test('a grid stopped by --max-hours reports the cells it finished, marked partial, and goes on when run again', () => {
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const cfgPath = join(root, 'grid-partial.json');
  writeFileSync(cfgPath, JSON.stringify(config));
  const ids = experiments.cells(experiments.parseExperiment(config)).map((c) => c.id);
  const last = join(config.out, 'cells', ids[5], 'result.json');
  renameSync(last, `${last}.aside`); // the last cell not yet scored
  try {
    const run = spawnSync(process.execPath, [bin, 'experiment', '--config', cfgPath, '--max-hours', '1e-9'], {
      encoding: 'utf8',
    });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /time limit reached before cell 6\/6; run the experiment again to go on/);
    assert.match(run.stderr, /the 5 of 6 cells finished/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    const json = JSON.parse(readFileSync(join(config.out, 'results.json'), 'utf8'));
    assert.deepEqual(json.partial, { cells: 5, of: 6 });
    assert.deepEqual(
      json.cells.map((c: experiments.CellResult) => c.id),
      ids.slice(0, 5),
    );
    const md = readFileSync(join(config.out, 'report.md'), 'utf8');
    assert.match(md, /partial, 5 of 6 cells \(run it again to go on\)/);
    assert.match(run.stdout, /partial, 5 of 6 cells/);
  } finally {
    renameSync(`${last}.aside`, last);
  }
  // Finished: the next run reports the whole grid, no longer partial.
  execFileSync(process.execPath, [bin, 'experiment', '--config', cfgPath], { encoding: 'utf8' });
  const json = JSON.parse(readFileSync(join(config.out, 'results.json'), 'utf8'));
  assert.equal(json.partial, undefined);
  assert.equal(json.cells.length, 6);
  assert.doesNotMatch(readFileSync(join(config.out, 'report.md'), 'utf8'), /partial/);
});

test('comboseg experiment writes report.md; bad configurations name the field', () => {
  const bin = fileURLToPath(new URL('../../bin/comboseg.js', import.meta.url));
  const cfgPath = join(root, 'grid.json');
  writeFileSync(cfgPath, JSON.stringify(config));
  const out = execFileSync(process.execPath, [bin, 'experiment', '--config', cfgPath], { encoding: 'utf8' });
  assert.match(out, /\| network \| loss \| seed \| Jaccard \| Dice \| FPR \| FNR \| HD95 \(mm\) \| config \|/);
  const ids = experiments.cells(experiments.parseExperiment(config));
  for (const [i, c] of ids.entries())
    assert.ok(
      out.includes(`cell ${i + 1}/6 ${c.name}: reusing finished result (config ${c.configHash})\n`),
      `the log says cell ${i + 1} is reused`,
    );
  for (const f of [
    'report.md',
    'report.html',
    'results.json',
    'figures/dice-boxplot.svg',
    'figures/dice-boxplot.png',
    'figures/hd95-boxplot.png',
    'figures/convergence.png',
    'figures/overlay-best-1.png', // rows of three planes: through the hardest organ, then the errors
  ]) {
    assert.ok(existsSync(join(config.out, f)), f);
  }
  const png = readFileSync(join(config.out, 'figures/dice-boxplot.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  const html = readFileSync(join(config.out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 3, 'three plots inline');
  assert.ok((html.match(/<img [^>]*src="data:image\/png;base64,/g) ?? []).length >= 1, 'overlays embedded');
  assert.doesNotMatch(html, /src="figures\//, 'self-contained: no external image links');
  assert.throws(
    () => experiments.parseExperiment({ ...config, networks: [] }),
    /networks: Array must contain at least 1 element/,
  );
  assert.throws(
    () => experiments.parseExperiment({ ...config, losses: [], sweep: undefined }),
    /give "losses", a "sweep", or both/,
  );
  const swept = experiments.cells(
    experiments.parseExperiment({
      ...config,
      losses: [],
      sweep: { loss: 'combo', option: 'beta', values: [0.3, 0.7] },
    }),
  );
  assert.deepEqual(
    swept.map((c) => c.loss.label),
    ['combo beta=0.3', 'combo beta=0.7', 'combo beta=0.3', 'combo beta=0.7'],
  );
});

/** A cell result with the given overall metrics only (what the tables and the trend read). */
function summaryCell(o: {
  loss?: string;
  beta?: number;
  seed?: number;
  dice?: number;
  fpr: number;
  fnr: number;
}): experiments.CellResult {
  const stat = (mean: number) => ({ mean, std: 0, n: 1, missing: 0 });
  const { loss = 'combo', beta, seed = 0, dice = 0.8 } = o;
  return {
    id: `${loss}${beta}-${seed}`,
    network: { name: 'proposed', options: {}, label: 'proposed' },
    loss: { name: loss, options: beta === undefined ? {} : { beta }, label: `${loss} ${beta ?? ''}`.trim() },
    seed,
    configHash: '00000000',
    summary: {
      perOrgan: {},
      overall: {
        dice: stat(dice),
        jaccard: stat(dice / 2),
        fpr: stat(o.fpr),
        fdr: stat(0.1),
        fnr: stat(o.fnr),
        hd: stat(5),
        hd95: stat(4),
        assd: stat(1),
      },
      cases: 1,
    },
    cases: [],
    records: [],
    bestEpoch: 1,
  } as unknown as experiments.CellResult;
}

test('the β-sweep verdict says plainly whether FPR falls and FNR rises as β falls', () => {
  const cell = (beta: number, fpr: number, fnr: number) => summaryCell({ beta, fpr, fnr });
  const holds = experiments.betaTrend([cell(0.3, 0.001, 0.3), cell(0.5, 0.002, 0.2), cell(0.7, 0.004, 0.1)]);
  assert.match(holds[0], /FPR rose in 2\/2 steps and FNR fell in 2\/2: the paper's trend holds at every step/);
  const not = experiments.betaTrend([cell(0.3, 0.004, 0.1), cell(0.7, 0.001, 0.3)]);
  assert.match(not[0], /does NOT hold/);
});

test('seeds: a table averages each setting over its seeds (sd and range); the β trend uses seed means', () => {
  const cell = (loss: string, beta: number | undefined, seed: number, dice: number, fpr: number, fnr: number) =>
    summaryCell({ loss, beta, seed, dice, fpr, fnr });
  const cells = [
    cell('combo', 0.3, 0, 0.5, 0.002, 0.4),
    cell('combo', 0.3, 1, 0.7, 0.004, 0.2), // seed mean at β 0.3: FPR 0.003, FNR 0.3
    cell('combo', 0.7, 0, 0.6, 0.001, 0.1),
    cell('combo', 0.7, 1, 0.6, 0.009, 0.3), // at β 0.7: FPR 0.005, FNR 0.2
    cell('dice', undefined, 0, 0.55, 0.01, 0.5),
  ];
  const withCase = cells.map((c) => ({ ...c, cases: [{ id: 'a', organs: { t: { dice: 0.5, hd95: 1 } } }] }));
  const box = experiments.boxPlotSpec(withCase as unknown as experiments.CellResult[], 'dice', 'Dice') as unknown as {
    encoding: { x: { sort: unknown } };
    data: { values: { cell: string }[] };
  };
  assert.deepEqual(
    box.encoding.x.sort,
    cells.map((c) => `proposed · ${c.loss.label} · seed ${c.seed}`),
    "the grid's order",
  );
  assert.deepEqual(
    box.data.values.map((v) => v.cell),
    cells.map((c) => `proposed · ${c.loss.label} · seed ${c.seed}`),
    'every box names its seed, seed 0 too',
  );
  const table = experiments.seedTable(cells)!;
  // β 0.3: Dice 0.5 and 0.7 → mean 0.6, sample sd √0.02 = 0.141; Jaccard 0.3; FPR 0.003; FNR 0.3.
  assert.match(
    table,
    /\| proposed \| combo 0\.3 \| 2 \| 0\.600 ± 0\.141 \| 0\.500–0\.700 \| 0\.300 \| 0\.0030 \| 0\.300 \| 4\.0 \|/,
  );
  assert.match(table, /\| proposed \| dice \| 1 \| 0\.550 \| 0\.550–0\.550 \|/);
  assert.equal(experiments.seedTable([cells[0], cells[2]]), null, 'one seed each: no table');
  const md = experiments.experimentMarkdown('t', cells);
  assert.match(md, /## Averaged over seeds/);
  // Not a sweep, but Combo ran at two β: the trend is checked on the seed means (FPR up, FNR down from 0.3 to 0.7).
  assert.match(md, /from beta = 0\.3 to 0\.7, FPR 0\.00300 → 0\.00500, FNR 0\.300 → 0\.200/);
  assert.match(md, /the paper's trend holds at every step/);
});

test('the best setting is chosen on Dice averaged over seeds, shown by its median seed, not the luckiest run', () => {
  const cell = (loss: string, seed: number, dice: number) => summaryCell({ loss, seed, dice, fpr: 0, fnr: 0 });
  // The single best run (0.90) belongs to 'wild', whose seed mean (0.90 + 0.30 + 0.30) / 3 = 0.50 is below
  // 'steady' at (0.70 + 0.60 + 0.65) / 3 = 0.65; steady's median seed is seed 2 (0.65).
  const cells = [
    cell('wild', 0, 0.9),
    cell('wild', 1, 0.3),
    cell('wild', 2, 0.3),
    cell('steady', 0, 0.7),
    cell('steady', 1, 0.6),
    cell('steady', 2, 0.65),
  ];
  const best = experiments.bestCell(cells);
  assert.equal(best.loss.label, 'steady');
  assert.equal(best.seed, 2);
  // Two seeds: the lower median.
  assert.equal(experiments.bestCell([cell('a', 0, 0.8), cell('a', 1, 0.6)]).seed, 1);
  assert.equal(experiments.bestCell([cell('a', 0, 0.5), cell('b', 0, 0.6)]).loss.label, 'b', 'one seed: the best cell');
  assert.match(
    experiments.experimentMarkdown('t', cells),
    /## Best setting per organ \(Table IV shaped\): proposed, steady, its median seed \(2\)/,
  );
});

test(
  'cross-validated grid: ' + 'every case is tested once by a fold model that never trained or validated on it',
  async () => {
    const cv = {
      ...config,
      base: { ...config.base, split: { validation: 0.25, seed: 3 } },
      networks: [config.networks[0]],
      losses: [config.losses[0]],
      folds: 2,
      out: join(root, 'cv'),
    };
    const results = await experiments.runExperiment(cv);
    const [cell] = results;
    assert.equal(cell.folds!.length, 2);
    assert.deepEqual(
      cell.cases.map((c) => c.id).sort(),
      ['echo_lv_000', 'echo_lv_001', 'echo_lv_002', 'echo_lv_003', 'echo_lv_004'],
      'all five cases pooled, each once',
    );
    for (const f of cell.folds!) {
      const s = JSON.parse(readFileSync(join(cv.out, 'cells', cell.id, `fold${f.fold}`, 'run', 'split.json'), 'utf8'));
      assert.deepEqual(f.cases.map((c) => c.id).sort(), [...s.test].sort());
      for (const id of s.test)
        assert.ok(
          !s.train.includes(id) && !s.validation.includes(id),
          `${id} held out of fold ${f.fold}'s training and validation`,
        );
      assert.equal(s.validation.length, 1);
    }
    // Pooled summary = the mean over all cases of both folds.
    const all = cell.folds!.flatMap((f) => f.cases.map((c) => c.organs[Object.keys(c.organs)[0]].dice));
    assert.ok(Math.abs(cell.summary.overall.dice.mean! - all.reduce((a, b) => a + b, 0) / all.length) < 1e-12);
    assert.equal(cell.records.length, 2);
    assert.ok(
      Math.abs(
        cell.records[1].trainLoss - (cell.folds![0].records[1].trainLoss + cell.folds![1].records[1].trainLoss) / 2,
      ) < 1e-12,
    );
    assert.match(experiments.experimentMarkdown('cv', results), /2-fold cross-validation[\s\S]*## Mean Dice per fold/);
    // Interrupted after fold 0: fold 0 is not re-run.
    const fold0 = readFileSync(join(cv.out, 'cells', cell.id, 'fold0', 'result.json'), 'utf8');
    rmSync(join(cv.out, 'cells', cell.id, 'result.json'));
    rmSync(join(cv.out, 'cells', cell.id, 'fold1'), { recursive: true });
    const folds: (number | undefined)[] = [];
    await experiments.runExperiment(cv, {
      onCell: (_c, _i, _n, s, f) => {
        if (s === 'started') folds.push(f);
      },
    });
    assert.deepEqual(folds, [1]);
    assert.equal(readFileSync(join(cv.out, 'cells', cell.id, 'fold0', 'result.json'), 'utf8'), fold0);
  },
);

test('Wilcoxon signed-rank: exact p under 25 pairs, normal approximation from 25; paired cases line up', () => {
  // Exact, counted by hand: |d| ranks 1..7, W+ = 21, so W− = 7; 19 of the 128 subsets of {1..7} sum to ≤ 7
  // (1 + 1 + 1 + 2 + 2 + 3 + 4 + 5 for sums 0..7): p = 2 · 19 / 128.
  const r = experiments.wilcoxon([1, 2, 3, 4, 5, 6, -7])!;
  assert.equal(r.w, 21);
  assert.equal(r.p, 0.296875);
  // Ranks 1..6, W− = 6: 14 of 64 subsets of {1..6} sum to ≤ 6: p = 2 · 14 / 64.
  assert.equal(experiments.wilcoxon([1, 2, 3, 4, 5, -6])!.p, 0.4375);
  // Ties get mid-ranks: |d| = 1,1,2,2,3,3 → ranks 1.5,1.5,3.5,3.5,5.5,5.5; W+ = 19.5, so W− = 1.5: reached by
  // no negative rank or either 1.5 alone, 3 of 64 assignments: p = 2 · 3 / 64.
  const t = experiments.wilcoxon([1, -1, 2, 2, 3, 3])!;
  assert.equal(t.w, 19.5);
  assert.equal(t.p, 0.09375);
  // Four cases all one way: the smallest p four pairs can give, 2 / 16; zeros are dropped.
  assert.equal(experiments.wilcoxon([0.1, 0.2, 0.3, 0.4])!.p, 0.125);
  assert.deepEqual(experiments.wilcoxon([0, 0, 1, 2]), { w: 3, p: 0.5, n: 2 });
  assert.equal(experiments.wilcoxon([0, 0]), null, 'no case differs');
  // 25 pairs: ranks 1..25, W+ = 300, μ = 162.5, σ² = 25·26·51/24 = 1381.25: z = 3.6997, p = erfc(z/√2) = 2.1585e-4
  // (the exact p, 2 · 904 / 2^25 = 5.39e-5, is far outside the tolerance; Φ's own error is < 1.5e-7).
  const big = experiments.wilcoxon([...Array.from({ length: 24 }, (_, i) => i + 1), -25])!;
  assert.equal(big.w, 300);
  assert.ok(Math.abs(big.p / 2.1585e-4 - 1) < 2e-3, String(big.p));
  const mk = (loss: string, dice: number[]) =>
    ({
      id: loss,
      network: { name: 'n', options: {}, label: 'n' },
      loss: { name: loss, options: {}, label: loss },
      seed: 0,
      cases: dice.map((d, i) => ({ id: `c${i}`, organs: { a: { dice: d } } })),
      summary: {},
      records: [],
      bestEpoch: null,
    }) as unknown as experiments.CellResult;
  const [p] = experiments.pairedComparison([mk('combo', [0.9, 0.8, 0.7]), mk('dice', [0.8, 0.8, 0.9])], 'combo');
  assert.deepEqual(
    { ...p, meanDiff: +p.meanDiff.toFixed(6) },
    {
      network: 'n',
      reference: 'combo',
      other: 'dice',
      cases: 3,
      seeds: 1,
      meanDiff: -0.033333,
      wins: 1,
      losses: 1,
      pairs: 2,
      p: 1,
      pHolm: 1,
    },
  );
  // Three cases, two that differ: the report says no p could be significant, rather than leave "not significant"
  // to read as a finding (2 / 2² = 0.5).
  const full = (loss: string, dice: number[]) => ({
    ...summaryCell({ loss, fpr: 0, fnr: 0 }),
    cases: mk(loss, dice).cases,
  });
  const md = experiments.experimentMarkdown('t', [full('combo', [0.9, 0.8, 0.7]), full('dice', [0.8, 0.8, 0.9])]);
  assert.match(md, /No p-value here can fall below 0\.05: no row has more than 2 test case\(s\) on which the two/);
  assert.match(md, /with 2 the smallest two-sided p is 0\.500/);
  // Six cases that differ: raw p can reach 2 / 64 = 0.031, but not after Holm over 3 rows (0.094).
  const six = [0.5, 0.51, 0.52, 0.53, 0.54, 0.55];
  const lower = (by: number) => six.map((x) => x - by);
  const holmOnly = experiments.experimentMarkdown('t', [
    full('combo', six),
    full('dice', lower(0.1)),
    full('ce', lower(0.2)),
    full('wce', lower(0.3)),
  ]);
  assert.match(
    holmOnly,
    /No Holm-adjusted p-value here can fall below 0\.05: the smallest raw p with at most 6 differing/,
  );
  assert.match(holmOnly, /is 0\.031, and Holm multiplies the smallest by the 3 rows/);
  const thirty = Array.from({ length: 30 }, (_, i) => 0.5 + i / 100);
  const enough = experiments.experimentMarkdown('t', [
    full('combo', thirty),
    full(
      'dice',
      thirty.map((x) => x - 0.1),
    ),
  ]);
  assert.doesNotMatch(enough, /can fall below 0\.05/, '30 cases can show a difference');
});

test('cells are keyed by configuration: an edit retrains, saying so; an unchanged rerun reuses', async () => {
  const small = {
    ...config,
    base: { ...config.base, epochs: 1, inference: { mode: 'whole' } },
    networks: [{ name: 'proposed', options: { channels: [2, 4] } }],
    losses: [{ name: 'dice' }],
    out: join(root, 'keyed'),
  };
  const run = async (c: unknown) => {
    const log: string[] = [];
    const results = await experiments.runExperiment(c, { log: (l) => log.push(l) });
    return { cell: results[0], log };
  };
  const line = (what: string) => `cell 1/1 proposed-dice-seed0: ${what}`;
  const first = await run(small);
  const h1 = first.cell.configHash;
  assert.equal(first.cell.id, `proposed-dice-seed0__${h1}`);
  assert.deepEqual(first.log, [line(`training (config ${h1})`)]);
  // The same configuration with its keys in another order and a default spelled out: reused.
  const { epochs, ...rest } = small.base;
  const same = { ...small, base: { normalisation: { kind: 'minmax' }, epochs, ...rest } };
  const again = await run(same);
  assert.deepEqual(again.log, [line(`reusing finished result (config ${h1})`)]);
  assert.deepEqual(again.cell, first.cell);
  // epochs 1 → 2: trained anew in its own folder; the 1-epoch cell's folder is left in place.
  const edited = await run({ ...small, base: { ...small.base, epochs: 2 } });
  const h2 = edited.cell.configHash;
  assert.notEqual(h2, h1);
  assert.equal(edited.cell.records.length, 2, 'trained for the new 2 epochs');
  assert.deepEqual(edited.log, [
    line(
      `configuration changed (was ${h1}, now ${h2}: epochs 1 → 2): training anew; cells/${first.cell.id} left in place`,
    ),
  ]);
  const json = JSON.parse(readFileSync(join(small.out, 'results.json'), 'utf8'));
  assert.deepEqual([json.cells[0].id, json.cells[0].configHash], [`proposed-dice-seed0__${h2}`, h2]);
  const key = JSON.parse(readFileSync(join(small.out, 'cells', edited.cell.id, 'resolved-config.json'), 'utf8'));
  assert.equal(key.configHash, h2);
  assert.equal(key.config.epochs, 2);
  assert.equal(key.config.out, undefined, 'where the run lives is not part of its configuration');
  assert.equal(
    JSON.parse(readFileSync(join(small.out, 'cells', first.cell.id, 'result.json'), 'utf8')).records.length,
    1,
  );
  // Unchanged rerun of the 2-epoch grid: reused.
  assert.deepEqual((await run({ ...small, base: { ...small.base, epochs: 2 } })).log, [
    line(`reusing finished result (config ${h2})`),
  ]);
  // A folder from before configuration hashes (cells/NAME, no resolved-config.json) of the same
  // configuration is renamed into place and reused, not retrained.
  const legacy = join(small.out, 'cells', 'proposed-dice-seed0');
  renameSync(join(small.out, 'cells', first.cell.id), legacy);
  rmSync(join(legacy, 'resolved-config.json'));
  const { name: _n, configHash: _h, ...oldResult } = first.cell;
  writeFileSync(join(legacy, 'result.json'), JSON.stringify({ ...oldResult, id: 'proposed-dice-seed0' }, null, 2));
  const adopted = await run(small);
  assert.deepEqual(adopted.log, [
    line(
      `reusing finished result (config ${h1}); cells/proposed-dice-seed0 predates configuration hashes ` +
        'and ran this configuration: renamed',
    ),
  ]);
  assert.ok(!existsSync(legacy) && existsSync(join(small.out, 'cells', first.cell.id, 'resolved-config.json')));
  assert.deepEqual(adopted.cell, first.cell);
  const rewritten = JSON.parse(readFileSync(join(small.out, 'cells', first.cell.id, 'result.json'), 'utf8'));
  assert.deepEqual([rewritten.id, rewritten.configHash], [first.cell.id, h1], 'its result.json now carries the hash');
});

test('a misspelt loss in the 3rd cell fails before any training, naming the cell and the right name', async () => {
  const out = join(root, 'misspelt');
  const bad = {
    ...config,
    networks: [config.networks[0]],
    losses: [{ name: 'combo' }, { name: 'bce' }, { name: 'dicee' }],
    out,
  };
  let epochs = 0;
  await assert.rejects(experiments.runExperiment(bad, { train: { onEpoch: () => epochs++ } }), (e: unknown) => {
    assert.ok(e instanceof ComboSegError);
    assert.equal(e.code, 'invalid-config');
    assert.match(
      e.message,
      /^experiment config: 1 problem\(s\) found before anything ran; nothing was trained:\n {2}cell 3\/3 proposed-dicee-seed0: loss\.name: must be one of .*got "dicee"\. Did you mean 'dice'\?$/,
    );
    return true;
  });
  assert.equal(epochs, 0);
  assert.ok(!existsSync(out), 'no folder made, no cell folder');
  assert.throws(() => experiments.cells(experiments.parseExperiment(bad)), /cell 3\/3 proposed-dicee-seed0/);
});

test('no test case in the split, too many folds, an unreadable case file: one error before training', async () => {
  const out = join(root, 'no-test');
  const noTest = { ...config, base: { ...config.base, split: { validation: 0.2, seed: 0 } }, out };
  await assert.rejects(
    experiments.runExperiment(noTest),
    /1 problem\(s\)[\s\S]*split: no labelled test case to score on \(5 case\(s\), split\.test 0\); set base\.split\.test/,
  );
  await assert.rejects(
    experiments.runExperiment({ ...noTest, folds: 6 }),
    /fold 1\/6 and 5 more: kFold: k must be an integer in \[2, 5\], got 6/,
  );
  // A case whose label is not an image, found by its header, beside the split's problem: one error.
  const badData = join(root, 'data-bad');
  cpSync(join(root, 'data'), badData, { recursive: true });
  const label = readdirSync(join(badData, 'labelsTr')).filter((f) => f.endsWith('.nii.gz'))[1];
  writeFileSync(join(badData, 'labelsTr', label), 'not an image');
  await assert.rejects(
    experiments.runExperiment({ ...noTest, base: { ...noTest.base, data: { msd: badData } } }),
    (e: unknown) => {
      assert.ok(e instanceof ComboSegError);
      assert.match(e.message, /2 problem\(s\)/);
      assert.match(e.message, new RegExp(`data: case '[^']+' label .*${label}: not a valid gzip stream`));
      assert.match(e.message, /split: no labelled test case/);
      return true;
    },
  );
  assert.ok(!existsSync(out));
});

test('one experiment writer per output folder: a second is refused, naming the first', async () => {
  const out = join(root, 'locked-grid');
  mkdirSync(out, { recursive: true });
  const lock = FolderLock.acquire(out, 'experiment');
  try {
    await assert.rejects(
      experiments.runExperiment({ ...config, out }),
      (e: unknown) =>
        e instanceof ComboSegError && e.code === 'conflict' && /is in use by pid \d+ \(experiment/.test(e.message),
    );
  } finally {
    lock.release();
  }
});

test("Holm's adjustment: step-down, monotone, capped at 1, nulls kept out (R's p.adjust(method = 'holm'))", () => {
  // p.adjust(c(0.01, 0.04, 0.03, 0.5), "holm") = 0.04 0.09 0.09 0.50
  const got = experiments.holm([0.01, 0.04, null, 0.03, 0.5]);
  assert.deepEqual(
    got.map((p) => (p === null ? null : +p.toFixed(6))),
    [0.04, 0.09, null, 0.09, 0.5],
  );
});
