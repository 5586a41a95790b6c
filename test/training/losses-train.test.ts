// Every advertised loss trains: CE and WCE (softmax, background channel) as well as the sigmoid
// losses, end to end through train() on a small phantom. The loss falls, the checkpoint records
// the layout, and predictions hold only background and the data set's organ values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, training, inference } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'comboseg-losses-train-'));
const dataDir = join(root, 'data');
await data.writeSyntheticDataset({ kind: 'pet', out: dataDir, cases: 4, seed: 11, size: [24, 24, 32] });

const config = (loss: Record<string, unknown>, out: string) => ({
  data: { msd: dataDir },
  split: { validation: 0.25, test: 0, seed: 0 },
  network: { name: 'proposed', options: { channels: [4, 8] } },
  loss,
  sampler: { kind: 'paper', patchSize: [16, 16, 16], perOrgan: 2, background: 1 },
  batchSize: 2,
  epochs: 5,
  patchesPerEpoch: 8,
  optimizer: { name: 'adam', lr: 0.01 },
  inference: { mode: 'whole' },
  seed: 1,
  out: join(root, out),
});

const cases: [string, Record<string, unknown>, 'sigmoid' | 'softmax'][] = [
  ['ce', { name: 'ce' }, 'softmax'],
  ['wce inverse-frequency', { name: 'wce', options: { weights: 'inverse-frequency' } }, 'softmax'],
  ['wce median-frequency', { name: 'wce', options: { weights: 'median-frequency' } }, 'softmax'],
  ['bce', { name: 'bce' }, 'sigmoid'],
  ['combo', { name: 'combo', options: { beta: 0.4 } }, 'sigmoid'],
];

for (const [label, loss, layout] of cases) {
  test(`${label} trains: loss falls, checkpoint layout '${layout}', labels are organ values`, async () => {
    const logs: string[] = [];
    const out = label.replace(/\W+/g, '-');
    const r = await training.train(config(loss, out), { events: { log: (m) => logs.push(m) } });
    const first = r.records[0].trainLoss;
    const last = r.records[r.records.length - 1].trainLoss;
    assert.ok(last < first, `${label}: train loss ${first} → ${last} did not fall`);
    if (label.startsWith('wce')) assert.ok(logs.some((l) => /wce: \S+ class weights from the training set/.test(l)));
    const model = inference.loadModel(join(root, out, 'best'));
    try {
      assert.equal(model.meta.layout, layout);
      const organs = model.meta.labels.values;
      const channels = model.network.options.outChannels;
      assert.equal(channels, layout === 'softmax' ? organs.length + 1 : organs.length);
      const ds = data.openDataset({ msd: dataDir });
      const c = await data.loadCase(ds.training[0]);
      const pred = inference.predictVolume(model.network, model.meta, c.image);
      const values = new Set(pred.labels.data);
      for (const v of values) assert.ok(v === 0 || organs.includes(v), `${label}: label ${v} is no organ`);
      assert.equal(pred.probabilities.length, organs.length);
    } finally {
      model.network.dispose();
    }
  });
}

test.after(() => rmSync(root, { recursive: true, force: true }));
