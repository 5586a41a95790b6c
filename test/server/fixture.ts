// A served folder for the server and browser tests: a tiny synthetic echo-LV
// data set and one short training run with a saved model.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, training } from '../../src/index.js';

export interface ServedFolder {
  root: string;
  run: string;
  dataDir: string;
}

export async function servedFolder(): Promise<ServedFolder> {
  const root = mkdtempSync(join(tmpdir(), 'comboseg-serve-'));
  const dataDir = join(root, 'data');
  await data.writeSyntheticDataset({ kind: 'echo-lv', out: dataDir, cases: 4, seed: 5, size: [24, 24, 16] });
  await training.train(
    training.parseConfig({
      data: { msd: dataDir },
      split: { validation: 0.25, test: 0.25, seed: 0 },
      network: { name: 'proposed', options: { channels: [4, 8] } },
      loss: { name: 'combo', options: { beta: 0.5 } },
      sampler: { kind: 'whole', patchSize: 16 },
      batchSize: 2,
      epochs: 2,
      optimizer: { name: 'adam', lr: 0.01 },
      inference: { mode: 'window', stride: 8 },
      out: join(root, 'runs', 'lv'),
    }),
  );
  return { root, run: 'runs/lv', dataDir };
}
