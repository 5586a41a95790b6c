// `serve --precision`: each segmentation job's network computes in the server's precision, resolved
// in the job's worker ('auto': the CPU measured once, by the first job; later jobs take its answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data } from '../../src/index.js';
import { JobQueue, type Job } from '../../src/server/jobs.js';
import type { PrecisionSetting } from '../../src/engine/precision.js';
import { servedFolder } from './fixture.js';

const folder = await servedFolder();
const [c] = data.openDataset({ msd: folder.dataDir }).training;
const modelPath = join(folder.root, folder.run, 'best.safetensors');

function queue(precision: PrecisionSetting): JobQueue {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-jobs-precision-'));
  return new JobQueue(dir, { concurrency: 1, maxQueued: 4, keepFinished: 4, device: 'cpu', precision });
}

async function segment(q: JobQueue): Promise<Job> {
  const job = q.submit({
    title: c.id,
    model: folder.run,
    modelPath,
    image: c.image,
    label: c.label ?? null,
    caseId: c.id,
  });
  while (job.state !== 'done' && job.state !== 'error') await new Promise((r) => setTimeout(r, 20));
  return job;
}

test("serve --precision bf16: the job's network computes in bf16, and the job says so", async () => {
  const q = queue('bf16');
  try {
    const job = await segment(q);
    assert.equal(job.state, 'done', job.error ?? '');
    assert.equal(job.precision, 'bf16');
    assert.ok(job.files.includes('prediction.nii.gz'));
    assert.ok(job.metrics, 'scored against the case label');
  } finally {
    await q.close();
  }
});

test("serve --precision auto: the first job's resolution holds for the next", async () => {
  const q = queue('auto');
  try {
    const first = await segment(q);
    const second = await segment(q);
    assert.equal(first.state, 'done', first.error ?? '');
    assert.equal(second.state, 'done', second.error ?? '');
    assert.ok(first.precision === 'fp32' || first.precision === 'bf16', String(first.precision));
    assert.equal(second.precision, first.precision);
  } finally {
    await q.close();
  }
});

test.after(() => rmSync(folder.root, { recursive: true, force: true }));
