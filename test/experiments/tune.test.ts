// α/β search: the GP and expected improvement on known functions, and a tiny
// cross-validated search that resumes without retraining; points are keyed by their
// resolved configuration and every point and the data are checked before the first run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComboSegError, data, experiments } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';

test('the GP interpolates its points and is uncertain away from them; EI prefers promising places', () => {
  const xs = [[0.1], [0.4], [0.9]],
    ys = [0.2, 0.8, 0.1];
  const gp = experiments.fitGp(xs, ys);
  xs.forEach((x, i) => assert.ok(Math.abs(gp.mean(x) - ys[i]) < 0.02, `mean at ${x} = ${gp.mean(x)}`));
  assert.ok(gp.std([0.65]) > gp.std([0.4]) * 5, 'more uncertain between points');
  assert.ok(experiments.expectedImprovement(gp, [0.45], 0.8) > experiments.expectedImprovement(gp, [0.95], 0.8));
});

test('Bayesian optimisation finds the optimum of a smooth function in fewer evaluations than a grid', () => {
  const f = (x: number[]) => -((x[0] - 0.31) ** 2) - 2 * (x[1] - 0.68) ** 2; // peak 0 at (0.31, 0.68)
  const grid = [0, 0.25, 0.5, 0.75, 1].flatMap((a) => [0, 0.25, 0.5, 0.75, 1].map((b) => f([a, b])));
  const gridBest = Math.max(...grid); // 25 evaluations
  const rng = new Rng(3),
    xs: number[][] = [],
    ys: number[] = [];
  for (let i = 0; i < 15; i++) {
    const x = experiments.suggest(xs, ys, 2, rng, 4, 1500);
    xs.push(x);
    ys.push(f(x));
  }
  const reached = ys.findIndex((_, i) => Math.max(...ys.slice(0, i + 1)) >= gridBest);
  assert.ok(
    reached >= 0 && reached < 15,
    `reached the grid's best (${gridBest.toFixed(4)}) after ${reached + 1} of 15 evaluations; ` +
      `best ${Math.max(...ys).toFixed(4)}`,
  );
});

test('a tiny cross-validated α/β search runs, reports both methods and resumes without retraining', async () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-tune-'));
  await data.writeSyntheticDataset({ kind: 'echo-lv', out: join(root, 'data'), cases: 4, seed: 1, size: [16, 16, 16] });
  const config = {
    base: {
      data: { msd: join(root, 'data') },
      network: { name: 'proposed', options: { channels: [4, 8] } },
      loss: { name: 'combo', options: { alpha: 0.5 } },
      sampler: { kind: 'whole', patchSize: 16 },
      batchSize: 1,
      epochs: 1,
      optimizer: { name: 'adam', lr: 0.01 },
      inference: { mode: 'whole' },
    },
    space: { beta: [0.2, 0.8] },
    grid: { beta: [0.3, 0.7] },
    folds: 2,
    bayes: { trials: 2, initial: 1, seed: 0 },
    out: join(root, 'tune'),
  };
  let trainings = 0;
  const r = await experiments.runTune(config, { train: { onEpoch: () => trainings++ } });
  assert.equal(r.grid.length, 2);
  assert.equal(r.bayes.length, 2);
  assert.equal(trainings, 8, '4 points × 2 folds');
  assert.ok(r.bayes.every((t) => t.options.beta >= 0.2 && t.options.beta <= 0.8));
  assert.ok(r.grid.every((t) => t.folds.length === 2 && Math.abs(t.score - (t.folds[0] + t.folds[1]) / 2) < 1e-12));
  trainings = 0;
  const again = await experiments.runTune(config, { train: { onEpoch: () => trainings++ } });
  assert.equal(trainings, 0, 'resumed from the saved scores');
  assert.deepEqual(again.grid, r.grid);
  assert.ok([...r.grid, ...r.bayes].every((t) => /^[0-9a-f]{8}$/.test(t.configHash)));
  assert.match(experiments.tuneMarkdown(experiments.parseTune(config), r), /\| CV Dice \| per fold \| config \|/);
  assert.throws(
    () => experiments.parseTune({ ...config, grid: { gamma: [1] } }),
    /grid option 'gamma' is not in "space"/,
  );
});

test('tune: every point is checked before any run; a point whose configuration changed is trained anew', async () => {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-tune-keyed-'));
  await data.writeSyntheticDataset({ kind: 'echo-lv', out: join(root, 'data'), cases: 4, seed: 1, size: [16, 16, 16] });
  const config = {
    base: {
      data: { msd: join(root, 'data') },
      network: { name: 'proposed', options: { channels: [2, 4] } },
      loss: { name: 'combo', options: { alpha: 0.5 } },
      sampler: { kind: 'whole', patchSize: 16 },
      epochs: 1,
      optimizer: { name: 'adam', lr: 0.01 },
      inference: { mode: 'whole' },
    },
    space: { beta: [0.2, 0.8] },
    grid: { beta: [0.5] },
    folds: 2,
    out: join(root, 'tune'),
  };
  const misspelt = { ...config, base: { ...config.base, loss: { name: 'comob', options: { alpha: 0.5 } } } };
  await assert.rejects(experiments.runTune(misspelt), (e: unknown) => {
    assert.ok(e instanceof ComboSegError && e.code === 'invalid-config');
    assert.match(e.message, /nothing was trained:\n {2}grid point beta=0\.5000: loss\.name: .*Did you mean 'combo'\?/);
    return true;
  });
  const wide = { ...config, space: { beta: [0.2, 1.5] }, bayes: { trials: 1 }, folds: 5 };
  await assert.rejects(experiments.runTune(wide), (e: unknown) => {
    assert.ok(e instanceof ComboSegError);
    assert.match(e.message, /2 problem\(s\)/);
    assert.match(e.message, /bayes space, high end beta=1\.500: loss\.options\.beta: /);
    assert.match(e.message, /fold 1\/5 and 4 more: kFold: k must be an integer in \[2, 4\], got 5/);
    return true;
  });
  assert.ok(!existsSync(config.out), 'nothing made before the checks pass');
  const run = async (c: unknown) => {
    const log: string[] = [];
    let epochs = 0;
    const r = await experiments.runTune(c, { log: (l) => log.push(l), train: { onEpoch: () => epochs++ } });
    return { trial: r.grid[0], log, epochs };
  };
  const first = await run(config);
  const h1 = first.trial.configHash;
  assert.deepEqual([first.log, first.epochs], [[`grid point beta=0.5000: training (config ${h1})`], 2]);
  const edited = await run({ ...config, base: { ...config.base, epochs: 2 } });
  const h2 = edited.trial.configHash;
  assert.notEqual(h2, h1);
  assert.equal(edited.epochs, 4, '2 folds × 2 epochs, not the 1-epoch scores');
  assert.deepEqual(edited.log, [
    `grid point beta=0.5000: configuration changed (was ${h1}, now ${h2}: epochs 1 → 2): training anew; ` +
      `runs/beta=0.5000__${h1} left in place`,
  ]);
  const again = await run({ ...config, base: { ...config.base, epochs: 2 } });
  assert.deepEqual([again.log, again.epochs], [[`grid point beta=0.5000: reusing saved scores (config ${h2})`], 0]);
  assert.deepEqual(again.trial, edited.trial);
});
