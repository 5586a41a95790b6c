// Every ready-made experiment under experiments/ is a valid grid whose cells are valid training configurations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { experiments, training, networks, losses } from '../../src/index.js';

const dir = new URL('../../experiments/', import.meta.url);

test('ready-made experiment configs parse, and so does each of their cells', () => {
  const isTraining = (f: string) => f.endsWith('-train.json'); // a training configuration (comboseg train)
  for (const f of readdirSync(dir).filter(isTraining))
    training.parseConfig(JSON.parse(readFileSync(new URL(f, dir), 'utf8')), f);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('tune-') && !isTraining(f));
  for (const f of readdirSync(dir).filter((g) => g.startsWith('tune-')))
    experiments.parseTune(JSON.parse(readFileSync(new URL(f, dir), 'utf8')), f);
  assert.ok(files.length >= 5, files.join(', '));
  for (const f of files) {
    const cfg = experiments.parseExperiment(JSON.parse(readFileSync(new URL(f, dir), 'utf8')), f);
    for (const cell of experiments.cells(cfg)) {
      networks.create(cell.network.name, { ...cell.network.options, inChannels: 1, outChannels: 1 }).dispose();
      losses.create(cell.loss.name, cell.loss.options);
      training.parseConfig(
        {
          ...cfg.base,
          network: { name: cell.network.name, options: cell.network.options },
          loss: { name: cell.loss.name, options: cell.loss.options },
          seed: cell.seed,
          out: 'x',
        },
        `${f} ${cell.id}`,
      );
    }
  }
});
