// The server on a folder with one run: JSON errors, paths that try to leave the
// folder, uploads too large or of the wrong type, and jobs submitted at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { servedFolder, type ServedFolder } from './fixture.js';
import { serve, type RunningServer } from '../../src/server/server.js';
import { readVolume } from '../../src/data/io.js';
import { differenceMap } from '../../src/data/difference.js';
import type { RunSummary } from '../../src/server/catalog.js';

let f: ServedFolder;
let s: RunningServer;

before(async () => {
  f = await servedFolder();
  mkdirSync(join(f.root, 'outside-target'));
  s = await serve({ root: join(f.root), port: 0, maxUploadBytes: 64 * 1024 });
});
after(async () => {
  await (s as RunningServer | undefined)?.close(); // unset when before() failed
});

async function call(path: string, init?: RequestInit, page = true) {
  const r = await fetch(
    s.url + path,
    page && init?.method === 'POST'
      ? { ...init, headers: { 'x-comboseg': '1', ...(init.headers as Record<string, string>) } }
      : init,
  );
  const bytes = Buffer.from(await r.arrayBuffer());
  const type = r.headers.get('content-type') ?? '';
  return {
    status: r.status,
    bytes,
    type,
    headers: r.headers,
    body: type.includes('json') ? JSON.parse(bytes.toString('utf8')) : null,
  };
}

/** A raw request, so that `..` reaches the server unnormalised. */
async function rawGet(path: string, host = '127.0.0.1') {
  const u = new URL(s.url);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
  return { status, body: JSON.parse(text) };
}

async function waitJob(id: string) {
  for (;;) {
    const j = (await call(`/api/jobs/${id}`)).body;
    if (j.state === 'done' || j.state === 'error') return j;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the index lists the run; files inside the folder are served', async () => {
  const idx = await call('/api/index');
  assert.equal(idx.status, 200);
  assert.deepEqual(
    idx.body.runs.map((r: RunSummary) => [r.path, r.hasModel, r.epochs]),
    [['runs/lv', true, 2]],
  );
  const cfg = await call('/files/runs/lv/config.json');
  assert.equal(cfg.status, 200);
  assert.equal(cfg.body.network.name, 'proposed');
  const run = await call('/api/run?path=runs%2Flv');
  assert.equal(run.body.records.length, 2);
  assert.deepEqual(run.body.labels, { 1: 'myocardium' });
  const svg = await call('/api/run/curves.svg?path=runs/lv');
  assert.match(svg.bytes.toString(), /^<svg/);
});

test('paths cannot leave the served folder: .., encoded .., absolute, symbolic links', async () => {
  symlinkSync('/etc', join(f.root, 'escape'));
  writeFileSync(join(f.root, '..', `${f.root.split('/').pop()}-secret.txt`), 'TOP-SECRET-CONTENT');
  for (const p of [
    '/files/../../../etc/passwd',
    '/files/..%2f..%2f..%2fetc%2fpasswd',
    '/files/%2e%2e/%2e%2e/etc/passwd',
    '/files/runs/../../x',
    '/files/%2Fetc%2Fpasswd',
    '/files/escape/passwd',
    `/files/..%2F${f.root.split('/').pop()}-secret.txt`,
  ]) {
    const r = await rawGet(p);
    assert.ok(r.status === 403 || r.status === 404, `${p}: ${r.status}`);
    assert.equal(typeof r.body.error, 'string', `${p}: JSON error`);
    assert.doesNotMatch(JSON.stringify(r.body), /root:|TOP-SECRET-CONTENT/, `${p}: nothing leaked`);
  }
  for (const p of ['/api/run?path=..', '/api/run?path=%2Fetc', '/api/experiment?path=../..', '/api/run?path=escape']) {
    const r = await call(p);
    assert.ok([403, 404].includes(r.status), `${p}: ${r.status}`);
  }
  assert.equal((await rawGet('/files/escape/passwd')).status, 403, 'a link out of the folder is refused, not followed');
  const model = await call('/api/jobs/upload?model=..%2F..%2Fetc&filename=a.nii', {
    method: 'POST',
    body: Buffer.alloc(10),
  });
  assert.equal(model.status, 403);
});

test('errors are JSON with a status: unknown endpoint, bad JSON, unknown case, foreign Host header', async () => {
  const none = await call('/api/nothing');
  assert.equal(none.status, 404);
  assert.match(none.body.error, /no such endpoint/);
  const bad = await call('/api/jobs/case', { method: 'POST', body: '{nope' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /bad JSON/);
  const missing = await call('/api/jobs/case', {
    method: 'POST',
    body: JSON.stringify({ run: 'runs/lv', case: 'no_such_case' }),
  });
  assert.equal(missing.status, 404);
  assert.match(missing.body.error, /case 'no_such_case' is not in the data set/);
  const noRun = await call('/api/jobs/case', { method: 'POST', body: JSON.stringify({ run: 'data', case: 'x' }) });
  assert.equal(noRun.status, 404);
  assert.match(noRun.body.error, /'data' is not a training run/);
  const rebinding = await rawGet('/api/index', 'evil.example.com');
  assert.equal(rebinding.status, 403);
  assert.match(rebinding.body.error, /localhost only/);
  const job = await call('/api/jobs/00000000-0000-0000-0000-000000000000');
  assert.equal(job.status, 404);
  const nul = await call('/api/jobs/case', { method: 'POST', body: 'null' });
  assert.equal(nul.status, 400);
  assert.match(nul.body.error, /must be a JSON object/);
  assert.equal((await rawGet('/files/%E0%A4%A')).status, 400, 'bad percent-encoding');
  assert.equal((await rawGet('/assets/')).status, 404, 'a folder is not streamed');
  assert.equal((await rawGet('/files/runs')).status, 404);
  // A run whose metrics.jsonl is damaged: its detail says where; the index still answers.
  const broken = join(f.root, 'runs', 'broken');
  mkdirSync(broken, { recursive: true });
  for (const n of ['config.json', 'split.json'])
    writeFileSync(join(broken, n), readFileSync(join(f.root, 'runs', 'lv', n)));
  writeFileSync(join(broken, 'metrics.jsonl'), '{"epoch": 1}\n{oops\n');
  const detail = await call('/api/run?path=runs/broken');
  assert.equal(detail.status, 400);
  assert.match(detail.body.error, /metrics\.jsonl:2: not a JSON record/);
  assert.equal((await call('/api/index')).status, 200);
  const served = await call('/files/runs/lv/config.json');
  assert.match(served.headers.get('content-security-policy') ?? '', /sandbox/, 'served files never run scripts');
});

test(
  'work starts only from the page: ' + 'a cross-site POST (no custom header, or marked cross-site) is refused',
  async () => {
    const body = JSON.stringify({ run: 'runs/lv', case: 'echo_lv_000' });
    const plain = await call(
      '/api/jobs/case',
      { method: 'POST', body, headers: { 'content-type': 'text/plain' } },
      false,
    );
    assert.equal(plain.status, 403);
    assert.match(plain.body.error, /x-comboseg: 1/);
    const cross = await call(
      '/api/jobs/case',
      { method: 'POST', body, headers: { 'x-comboseg': '1', 'sec-fetch-site': 'cross-site' } },
      false,
    );
    assert.equal(cross.status, 403);
    const upload = await call(
      '/api/jobs/upload?model=runs/lv&filename=a.nii',
      { method: 'POST', body: Buffer.alloc(400) },
      false,
    );
    assert.equal(upload.status, 403);
    assert.equal(s.jobs.list().filter((j) => j.title === 'echo_lv_000').length, 0, 'no job was started');
  },
);

test(
  'uploads: too large (413), wrong type or content (415), ' + 'a corrupt scan fails its job clearly and leaves nothing',
  async () => {
    const before = readdirSync(s.jobs.dir).length;
    const big = await call('/api/jobs/upload?model=runs/lv&filename=big.nii', {
      method: 'POST',
      body: Buffer.alloc(65 * 1024),
    });
    assert.equal(big.status, 413);
    assert.match(big.body.error, /upload too large: the limit is 64 KiB/);
    // Without a declared length (chunked), reading stops at the limit and the reply is still a 413.
    const chunks = Array.from({ length: 20 }, () => new Uint8Array(8 * 1024));
    const stream = new ReadableStream({
      pull(c) {
        const x = chunks.shift();
        if (x) c.enqueue(x);
        else c.close();
      },
    });
    const chunked = await call('/api/jobs/upload?model=runs/lv&filename=big.nii', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    const txt = await call('/api/jobs/upload?model=runs/lv&filename=notes.txt', {
      method: 'POST',
      body: Buffer.from('hello'),
    });
    assert.equal(txt.status, 415);
    assert.match(txt.body.error, /unsupported file type; upload one of \.nii\.gz, \.nii, \.nrrd, \.mha/);
    const fake = await call('/api/jobs/upload?model=runs/lv&filename=scan.nii.gz', {
      method: 'POST',
      body: Buffer.from('not gzip at all'),
    });
    assert.equal(fake.status, 415);
    assert.match(fake.body.error, /is not a gzip-compressed NIfTI file/);
    const wrongMagic = Buffer.alloc(400);
    wrongMagic.writeInt32LE(348, 0);
    const nii = await call('/api/jobs/upload?model=runs/lv&filename=scan.nii', {
      method: 'POST',
      body: gzipSync(wrongMagic),
    });
    assert.equal(nii.status, 415, 'gzip content under a .nii name');
    const detached = await call('/api/jobs/upload?model=runs/lv&filename=d.nrrd', {
      method: 'POST',
      body: Buffer.from('NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: /etc/passwd\n\n'),
    });
    assert.equal(detached.status, 415);
    assert.match(detached.body.error, /keeps its data in another file/);
    const mha = await call('/api/jobs/upload?model=runs/lv&filename=m.mha', {
      method: 'POST',
      body: Buffer.from(
        'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\nElementDataFile = /etc/passwd\n',
      ),
    });
    assert.equal(mha.status, 415);
    // A valid NIfTI header whose data is cut short: accepted as a type, then the job reports the reader's error.
    const real = readFileSync(join(f.dataDir, 'imagesTr', readdirSync(join(f.dataDir, 'imagesTr'))[0]));
    const { gunzipSync } = await import('node:zlib');
    const truncated = gunzipSync(real).subarray(0, 1000);
    const r = await call('/api/jobs/upload?model=runs/lv&filename=cut.nii', { method: 'POST', body: truncated });
    assert.equal(r.status, 202);
    const j = await waitJob(r.body.id);
    assert.equal(j.state, 'error');
    assert.match(j.error, /cut|short|truncat|expected|bytes/i);
    assert.doesNotMatch(j.error, /internal error/);
    assert.match(j.error, /cut\.nii/, 'names the file');
    assert.equal(readdirSync(s.jobs.dir).length, before, 'no half-written job folder');
    assert.equal(
      readdirSync(join(s.jobs.dir, '..'))
        .filter((d) => d.startsWith('comboseg-uploads-'))
        .every((d) => readdirSync(join(s.jobs.dir, '..', d)).length === 0),
      true,
      'no upload left behind',
    );
    assert.equal((await call(`/api/jobs/${j.id}/prediction.nii.gz`)).status, 409);
  },
);

test('uploads whose header promises more than they hold: refused before a job is queued (400, 413)', async () => {
  const jobs = s.jobs.list().length;
  // A 100-byte .nii.gz whose header claims 512³ voxels: deflate cannot expand 100 bytes that far.
  const h = Buffer.alloc(352);
  h.writeInt32LE(348, 0);
  [3, 512, 512, 512, 1, 1, 1, 1].forEach((d, i) => h.writeInt16LE(d, 40 + 2 * i));
  h.writeInt16LE(2, 70); // uint8
  h.writeInt16LE(8, 72);
  [1, 1, 1, 1].forEach((p, i) => h.writeFloatLE(p, 76 + 4 * i));
  h.writeFloatLE(352, 108);
  h.write('n+1\0', 344, 'latin1');
  const claim = gzipSync(h);
  assert.ok(claim.length <= 100, `${claim.length} bytes`);
  const nii = await call('/api/jobs/upload?model=runs/lv&filename=claim.nii.gz', { method: 'POST', body: claim });
  assert.equal(nii.status, 400);
  assert.match(nii.body.error, /^'claim\.nii\.gz': truncated or corrupt: the header promises 134218080 bytes/);
  // A 4-byte compressed MetaImage claiming 1024³.
  const mha =
    'ObjectType = Image\nNDims = 3\nBinaryData = True\nCompressedData = True\nCompressedDataSize = 4\n' +
    'DimSize = 1024 1024 1024\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n';
  const m = await call('/api/jobs/upload?model=runs/lv&filename=claim.mha', {
    method: 'POST',
    body: Buffer.concat([Buffer.from(mha), Buffer.from([0x78, 0x9c, 3, 0])]),
  });
  assert.equal(m.status, 400);
  assert.match(m.body.error, /more than 4 bytes of zlib data can hold/);
  // Above the voxel limit (2^31 by default): 413, whatever the file holds.
  h.writeInt16LE(2048, 42);
  h.writeInt16LE(2048, 44);
  h.writeInt16LE(1024, 46);
  const big = await call('/api/jobs/upload?model=runs/lv&filename=big.nii', { method: 'POST', body: h });
  assert.equal(big.status, 413);
  assert.match(
    big.body.error,
    /^'big\.nii': 4294967296 voxels .* above the limit of 2147483648 \(COMBOSEG_MAX_VOXELS\)/,
  );
  assert.equal(s.jobs.list().length, jobs, 'no job queued');
  // A plausible header over a cut stream: queued, and its job fails with the reader's message.
  const gz = readFileSync(join(f.dataDir, 'imagesTr', readdirSync(join(f.dataDir, 'imagesTr'))[0]));
  const cut = await call('/api/jobs/upload?model=runs/lv&filename=cut.nii.gz', {
    method: 'POST',
    body: gz.subarray(0, Math.floor(gz.length * 0.9)),
  });
  assert.equal(cut.status, 202);
  const j = await waitJob(cut.body.id);
  assert.equal(j.state, 'error');
  assert.match(j.error, /^cut\.nii\.gz: truncated: the gzip data end before the end of the compressed stream/);
  assert.equal(j.error.includes(f.root), false, 'no server path in the message');
});

test('concurrent jobs: all finish, one at a time, each with the right result', async () => {
  const cases = ['echo_lv_000', 'echo_lv_001', 'echo_lv_002', 'echo_lv_003'];
  const submitted = await Promise.all(
    cases.map((c) => call('/api/jobs/case', { method: 'POST', body: JSON.stringify({ run: 'runs/lv', case: c }) })),
  );
  assert.deepEqual(
    submitted.map((r) => r.status),
    [202, 202, 202, 202],
  );
  const jobs = await Promise.all(submitted.map((r) => waitJob(r.body.id)));
  assert.deepEqual(
    jobs.map((j) => j.state),
    ['done', 'done', 'done', 'done'],
  );
  const spans = jobs.map((j) => [Date.parse(j.started), Date.parse(j.finished)]).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++)
    assert.ok(spans[i][0] >= spans[i - 1][1], 'concurrency 1: no two jobs overlap');
  for (const [i, j] of jobs.entries()) {
    assert.equal(j.title, cases[i]);
    const dir = join(s.jobs.dir, j.id);
    const [pred, truth, diff] = await Promise.all(
      ['prediction', 'label', 'difference'].map((n) => readVolume(join(dir, `${n}.nii.gz`))),
    );
    const truthFile = await readVolume(join(f.dataDir, 'labelsTr', `${cases[i]}.nii.gz`));
    assert.deepEqual([...truth.data], [...truthFile.data], `${cases[i]}: its own truth`);
    assert.deepEqual([...diff.data], [...differenceMap(pred.data, truth.data)]);
    const tp = [...pred.data].filter((p, k) => p === 1 && truth.data[k] === 1).length;
    assert.equal(j.metrics.organs.myocardium.tp, tp, 'metrics from this prediction');
    const dl = await call(`/api/jobs/${j.id}/prediction.nii.gz?download`);
    assert.equal(dl.status, 200);
  }
});

test('a model that is not there: 404, named as the client named it, not where it lies on the server', async () => {
  const r = await call('/api/jobs/upload?model=data&filename=a.nii', { method: 'POST', body: Buffer.alloc(10) });
  assert.equal(r.status, 404);
  assert.match(r.body.error, /^'data': no model there/);
  assert.equal(r.body.error.includes(f.root), false, 'no server path in the message');
});

test('NRRD and MetaImage uploads segment to the same labels as the NIfTI of the same scan', async () => {
  const nifti = join(f.dataDir, 'imagesTr', 'echo_lv_001.nii.gz');
  const scan = await readVolume(nifti);
  const { writeVolume } = await import('../../src/data/io.js');
  const dir = join(f.root, 'uploads-src');
  mkdirSync(dir, { recursive: true });
  const results: number[][] = [];
  for (const name of ['scan.nii.gz', 'scan.nrrd', 'scan.mha']) {
    const file = join(dir, name);
    await writeVolume(file, scan);
    const r = await call(`/api/jobs/upload?model=runs/lv&filename=${name}`, {
      method: 'POST',
      body: readFileSync(file),
    });
    assert.equal(r.status, 202, `${name}: ${JSON.stringify(r.body)}`);
    const j = await waitJob(r.body.id);
    assert.equal(j.state, 'done', `${name}: ${j.error}`);
    assert.deepEqual(
      j.files.sort(),
      ['image.nii.gz', 'prediction.nii.gz', 'probability.nii.gz'],
      'no truth, no difference',
    );
    const [pred, prob] = await Promise.all(
      ['prediction', 'probability'].map((n) => readVolume(join(s.jobs.dir, j.id, `${n}.nii.gz`))),
    );
    assert.deepEqual(pred.size, scan.size);
    results.push([...prob.data]);
  }
  // The probabilities (not just the mostly empty labels of an undertrained model) agree voxel for voxel.
  assert.ok(
    results[0].some((p) => p > 0.01),
    'a non-trivial probability map',
  );
  for (const r of results.slice(1)) assert.ok(r.every((p, i) => Math.abs(p - results[0][i]) < 1e-6));
});

test('slow-body uploads: dropped with 408 once they send nothing for the idle time, freeing their slots', async () => {
  const slow = await serve({ root: f.root, port: 0, maxUploadBytes: 64 * 1024, uploadIdleMs: 300 });
  try {
    const u = new URL(slow.url);
    const trickle = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            method: 'POST',
            path: `/api/jobs/upload?model=${f.run}&filename=a.nii.gz`,
            headers: { host: `localhost:${u.port}`, 'x-comboseg': '1', 'content-length': '10000' },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write(Buffer.alloc(100)); // then nothing more
      });
    const t0 = Date.now();
    assert.deepEqual(await Promise.all([trickle(), trickle()]), [408, 408]);
    assert.ok(Date.now() - t0 < 5000, 'dropped after the idle time, not the 30-minute request limit');
    // Both slots are free again: the next upload is judged on its content (415), not refused as busy (429).
    const next = await fetch(`${slow.url}/api/jobs/upload?model=${f.run}&filename=notes.txt`, {
      method: 'POST',
      headers: { 'x-comboseg': '1' },
      body: 'hello',
    });
    assert.equal(next.status, 415);
  } finally {
    await slow.close();
  }
});
