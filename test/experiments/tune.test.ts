// α/β search: the GP and expected improvement on known functions, and a tiny
// cross-validated search that resumes without retraining.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, experiments } from '../../src/index.js';
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
  assert.throws(
    () => experiments.parseTune({ ...config, grid: { gamma: [1] } }),
    /grid option 'gamma' is not in "space"/,
  );
});
