// Uploading a DICOM series to the server as a zip of its slices: the job reads the unpacked folder as one
// scan and its prediction is on the series' grid; a zip bomb, a non-zip under a .zip name and a zip of
// things that are not DICOM slices are refused clearly, leaving nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { servedFolder, type ServedFolder } from './fixture.js';
import { serve, type RunningServer } from '../../src/server/server.js';
import { readVolume } from '../../src/data/io.js';
import { unpackDicomZipOffThread } from '../../src/server/dicom-upload.js';
import { HttpError } from '../../src/server/http.js';

const series = fileURLToPath(new URL('../../../shared/data/dicom/ibsi-sts/STS_002/PET/image', import.meta.url));
const skip = existsSync(series) ? false : `no ${series} (the shared data folder is absent)`;
let f: ServedFolder;
let s: RunningServer;

before(async () => {
  if (skip) return;
  f = await servedFolder();
  s = await serve({ root: f.root, port: 0, maxUploadBytes: 1024 * 1024 });
});
after(async () => {
  await (s as RunningServer | undefined)?.close();
});

async function upload(name: string, body: Uint8Array) {
  const r = await fetch(`${s.url}/api/jobs/upload?model=runs/lv&filename=${name}`, {
    method: 'POST',
    body: Buffer.from(body),
    headers: { 'x-comboseg': '1' },
  });
  return { status: r.status, body: (await r.json()) as { id: string; error?: string } };
}

async function waitJob(id: string): Promise<{ state: string; error?: string }> {
  for (;;) {
    const j = (await (await fetch(`${s.url}/api/jobs/${id}`)).json()) as { state: string; error?: string };
    if (j.state === 'done' || j.state === 'error') return j;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const uploadsLeft = () =>
  readdirSync(join(s.jobs.dir, '..'))
    .filter((d) => d.startsWith('comboseg-uploads-'))
    .flatMap((d) => readdirSync(join(s.jobs.dir, '..', d)));

test('a zip of a DICOM series is segmented on the series grid', { skip }, async () => {
  const slices = Object.fromEntries(
    readdirSync(series).map((n) => [`export/PET/${n}`, new Uint8Array(readFileSync(join(series, n)))]),
  );
  const r = await upload('pet.zip', zipSync(slices));
  assert.equal(r.status, 202, r.body.error);
  const j = await waitJob(r.body.id);
  assert.equal(j.state, 'done', j.error);
  const pred = Buffer.from(await (await fetch(`${s.url}/api/jobs/${r.body.id}/prediction.nii.gz`)).arrayBuffer());
  const file = join(f.root, 'pred.nii.gz');
  writeFileSync(file, pred);
  assert.deepEqual((await readVolume(file)).size, (await readVolume(series)).size);
  assert.deepEqual(uploadsLeft(), [], 'the zip and its folder are gone with the job');
});

test('a zip bomb, a non-zip named .zip, and a zip of non-DICOM files: refused, nothing left', { skip }, async () => {
  // 4 × the 1 MiB upload limit unpacked at most: 16 MiB of zeros compress to a few KiB.
  const bomb = await upload('bomb.zip', zipSync({ 'a.dcm': new Uint8Array(16 * 2 ** 20) }));
  assert.equal(bomb.status, 413);
  assert.match(bomb.body.error ?? '', /'bomb\.zip' unpacks to more than 4 MiB/);
  const fake = await upload('fake.zip', new Uint8Array(Buffer.from('not a zip archive')));
  assert.equal(fake.status, 415);
  assert.match(fake.body.error ?? '', /'fake\.zip' is not a zip \(a DICOM series, its slices zipped\) file/);
  const notes = await upload('notes.zip', zipSync({ 'a.txt': new Uint8Array(Buffer.from('hello')) }));
  assert.equal(notes.status, 202);
  const j = await waitJob(notes.body.id);
  assert.equal(j.state, 'error');
  assert.match(j.error ?? '', /a\.txt is not a DICOM file/);
  assert.deepEqual(uploadsLeft(), []);
});

test('a zip is unpacked off the server thread (the event loop runs meanwhile); refusals keep status', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comboseg-unzip-'));
  try {
    const slice = (k: number) => Uint8Array.from({ length: 3000 }, (_, i) => (i * k) % 251);
    const zip = join(dir, 'series.zip');
    writeFileSync(zip, zipSync({ 'b/IM2': slice(2), 'a/IM1': slice(1), '__MACOSX/._IM1': slice(3) }));
    // Unpacked synchronously on this thread, no callback could run until it returned; here the loop keeps turning.
    let ticks = 0,
      ticking = true;
    const tick = () => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    await unpackDicomZipOffThread(zip, join(dir, 'out'), 2 ** 20, 'series.zip');
    ticking = false;
    assert.ok(ticks > 0, 'the event loop ran while the worker unpacked');
    // Flattened to numbered names in sorted path order (a/IM1 before b/IM2); the macOS resource fork left out.
    assert.deepEqual(readdirSync(join(dir, 'out')), ['00000-IM1', '00001-IM2']);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out', '00001-IM2'))), slice(2));

    writeFileSync(join(dir, 'bomb.zip'), zipSync({ 'a.dcm': new Uint8Array(4 * 2 ** 20) }));
    await assert.rejects(
      unpackDicomZipOffThread(join(dir, 'bomb.zip'), join(dir, 'bomb'), 2 ** 20, 'bomb.zip'),
      (e) => {
        assert.ok(e instanceof HttpError, 'an HttpError on this side too');
        assert.equal(e.status, 413);
        assert.match(e.message, /'bomb\.zip' unpacks to more than 1 MiB/);
        return true;
      },
    );
    writeFileSync(join(dir, 'fake.zip'), 'not a zip archive');
    await assert.rejects(
      unpackDicomZipOffThread(join(dir, 'fake.zip'), join(dir, 'fake'), 2 ** 20, 'fake.zip'),
      (e) => {
        assert.ok(e instanceof HttpError);
        assert.equal(e.status, 400);
        assert.match(e.message, /'fake\.zip' is not a readable zip archive/);
        return true;
      },
    );
    assert.ok(!existsSync(join(dir, 'bomb')) && !existsSync(join(dir, 'fake')), 'nothing written for a refused zip');
    // The server closing mid-way: the worker is stopped, the promise answers 503 and the folder is gone.
    const closing = new AbortController();
    const unpacking = unpackDicomZipOffThread(zip, join(dir, 'cut'), 2 ** 20, 'series.zip', closing.signal);
    closing.abort();
    await assert.rejects(unpacking, (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 503);
      assert.match(e.message, /the server stopped while unpacking 'series\.zip'/);
      return true;
    });
    assert.ok(!existsSync(join(dir, 'cut')), 'nothing left by a stopped unpacking');
    await assert.rejects(
      unpackDicomZipOffThread(zip, join(dir, 'late'), 2 ** 20, 'series.zip', closing.signal),
      /stopped/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
