// `comboseg serve`: the viewer page, the runs and experiments under a folder,
// live training curves, and segmentation jobs. Bound to 127.0.0.1 unless asked;
// every client-named path stays inside the folder; errors are JSON.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from '../engine/errors.js';
import type { PrecisionSetting } from '../engine/precision.js';
import { resolveModelPath } from '../training/run-dir.js';
import { trainingCurvesSpec, vegaLiteSvg } from '../experiments/plots.js';
import { experimentDetail, runCase, runDetail, scan } from './catalog.js';
import { readEpochRecords, RunDir } from '../training/run-dir.js';
import { HttpError, readBody, saveBody, UPLOAD_IDLE_MS, sendError, sendFile, sendJson, statusOf } from './http.js';
import { JobQueue } from './jobs.js';
import { relativeTo, resolveInside } from './paths.js';
import { checkUpload, checkUploadName } from './upload.js';
import { unpackDicomZipOffThread } from './dicom-upload.js';

export interface ServeOptions {
  /** The folder whose runs and experiments are served. */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  maxUploadBytes?: number;
  /** Jobs running at once (each uses all libtorch threads; 1 suits 2 cores). */
  concurrency?: number;
  /** Where segmentation jobs run their network: 'cpu' (default), 'cuda', 'cuda:N'. */
  device?: string;
  /** What segmentation jobs' networks compute in: 'auto' (default; resolved by the first job), 'fp32', 'bf16'. */
  precision?: PrecisionSetting;
  /** An upload that sends nothing for this long is dropped with 408 (default 60 s). */
  uploadIdleMs?: number;
  maxQueued?: number;
  /** The built page (vite's output). */
  webDir?: string;
}

export interface RunningServer {
  url: string;
  server: Server;
  jobs: JobQueue;
  close(): Promise<void>;
}

/** The built page: web/dist of the checkout, from src/server (tsx) or dist/src/server (compiled). */
export const DEFAULT_WEB_DIR =
  [new URL('../../web/dist', import.meta.url), new URL('../../../web/dist', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((d) => existsSync(join(d, 'index.html'))) ?? fileURLToPath(new URL('../../web/dist', import.meta.url));
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const MAX_UPLOADS = 2;

/** What every request handler shares: the folder, the page, the job queue and the open streams. */
interface ServerState {
  root: string;
  webDir: string;
  jobs: JobQueue;
  uploads: string;
  local: boolean;
  maxUpload: number;
  uploadIdleMs: number;
  streams: Set<ServerResponse>;
  /** Uploads being received now. */
  uploading: number;
  /** DICOM zips being unpacked in worker threads; `closing` stops them when the server closes. */
  unpacking: Set<Promise<void>>;
  closing: AbortController;
}

type Handler = (s: ServerState, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function param(url: URL, name: string): string {
  const v = url.searchParams.get(name);
  if (v === null || v === '') throw new HttpError(400, `missing query parameter '${name}'`);
  return v;
}

function modelOf(s: ServerState, rel: string): string {
  const dir = resolveInside(s.root, rel);
  try {
    return resolveModelPath(dir);
  } catch (e) {
    if (!(e instanceof ComboSegError)) throw e;
    // No model there (404), named as the client named it, not by where it lies on this machine.
    const message = e.message.split(e.path ?? dir).join(`'${rel}'`);
    throw e.rewrap(message, { code: 'not-found', path: rel });
  }
}

/** Refuses what must not reach a handler; returns the request's URL and method. */
function checkRequest(s: ServerState, req: IncomingMessage): { url: URL; method: string } {
  // A page on another site must not drive a localhost server through DNS rebinding.
  const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (s.local && !LOCAL_HOSTS.has(hostHeader))
    throw new HttpError(403, `host '${hostHeader}' refused: this server answers on localhost only`);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  // Requests that start work must come from this page: a custom header forces a CORS
  // preflight (which this server never grants), and browsers mark cross-site requests.
  if (
    method === 'POST' &&
    (req.headers['x-comboseg'] !== '1' || ['cross-site', 'same-site'].includes(String(req.headers['sec-fetch-site'])))
  ) {
    throw new HttpError(403, 'POST requests need the header "x-comboseg: 1" and must come from this server\'s page');
  }
  return { url, method };
}

// Cross-origin isolation lets the page's in-browser segmentation (onnxruntime-web) run on several threads.
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

const sendIndex: Handler = (s, _req, res) => sendFile(res, join(s.webDir, 'index.html'), undefined, ISOLATED);

const sendAsset: Handler = (s, _req, res, url) =>
  sendFile(res, resolveInside(realpathSync(s.webDir), decodeURIComponent(url.pathname.slice(1))), undefined, ISOLATED);

const sendServedFile: Handler = (s, _req, res, url) => {
  const file = resolveInside(s.root, decodeURIComponent(url.pathname.slice('/files/'.length)));
  if (!statSync(file).isFile()) throw new HttpError(404, `'${relativeTo(s.root, file)}' is a folder`);
  // Files under DIR are shown, never run: an HTML or SVG file there gets no scripts and no access to this origin.
  return sendFile(res, file, undefined, {
    'content-security-policy': "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
  });
};

const sendCurves: Handler = async (s, _req, res, url) => {
  const dir = resolveInside(s.root, param(url, 'path'));
  const svg = await vegaLiteSvg(trainingCurvesSpec(readEpochRecords(dir)));
  res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' });
  res.end(svg);
};

const JOB_PATH = /^\/api\/jobs\/([0-9a-f-]{36})(?:\/([a-z]+\.nii\.gz))?$/;

const sendJob: Handler = (s, _req, res, url) => {
  const match = JOB_PATH.exec(url.pathname);
  if (!match) throw new HttpError(404, `${url.pathname}: not found`);
  const [, id, file] = match;
  const job = s.jobs.get(id);
  if (!file) {
    sendJson(res, 200, job);
    return;
  }
  if (job.state !== 'done') throw new HttpError(409, `job ${job.id} is ${job.state}; its files come when it is done`);
  if (!job.files.includes(file)) throw new HttpError(404, `job ${job.id} has no ${file}`);
  const download = url.searchParams.has('download')
    ? `${job.title.replace(/\.(nii\.gz|nii|nrrd|mha)$/i, '')}_${file}`
    : undefined;
  return sendFile(res, join(s.jobs.folder(job.id), file), download);
};

/** Server-sent events: the run's records whenever metrics.jsonl changes (polled: fs.watch misses atomic renames). */
function liveRecords(s: ServerState, res: ServerResponse, dir: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  s.streams.add(res);
  const file = new RunDir(dir).metricsPath;
  let last = '';
  const stop = () => {
    clearInterval(timer);
    s.streams.delete(res);
  };
  res.on('close', stop);
  const tick = () => {
    try {
      const st = existsSync(file) ? statSync(file) : null;
      const stamp = st ? `${st.mtimeMs}:${st.size}` : 'none';
      if (stamp !== last) {
        last = stamp;
        res.write(`event: records\ndata: ${JSON.stringify(readEpochRecords(dir))}\n\n`);
      }
    } catch {
      stop(); // the run folder went away
      res.end();
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
}

const submitCase: Handler = async (s, req, res) => {
  const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8') || '{}') as {
    run?: unknown;
    case?: unknown;
    model?: unknown;
  } | null;
  if (!body || typeof body !== 'object')
    throw new HttpError(400, 'the request body must be a JSON object {"run": ..., "case": ...}');
  if (typeof body.run !== 'string' || typeof body.case !== 'string')
    throw new HttpError(400, 'give "run" (a run folder) and "case" (a case id) as strings');
  const runDir = resolveInside(s.root, body.run);
  const model = typeof body.model === 'string' ? body.model : body.run;
  const c = runCase(s.root, runDir, body.case);
  const job = s.jobs.submit({
    title: c.id,
    model,
    modelPath: modelOf(s, model),
    image: c.channelFiles ?? c.image,
    label: c.label ?? null,
    caseId: c.id,
  });
  sendJson(res, 202, job);
};

const submitUpload: Handler = async (s, req, res, url) => {
  const name = basename(param(url, 'filename'));
  const model = param(url, 'model');
  const modelPath = modelOf(s, model);
  checkUploadName(name);
  s.jobs.checkCapacity(); // before reading a large body
  if (s.uploading >= MAX_UPLOADS)
    throw new HttpError(429, `${s.uploading} uploads are in progress; try again when one has finished`);
  s.uploading++;
  const ext = name.toLowerCase().endsWith('.nii.gz') ? '.nii.gz' : name.slice(name.lastIndexOf('.'));
  const file = join(s.uploads, `${Date.now()}-${Math.random().toString(36).slice(2)}${ext}`);
  try {
    const size = await saveBody(req, res, file, s.maxUpload, s.uploadIdleMs);
    // A zip is a DICOM series: unpacked into a folder the job reads as one scan (at most 4 × the upload limit).
    const image = checkUpload(name, readHead(file, 64 * 1024), size) === '.zip' ? `${file}.series` : file;
    if (image !== file) {
      const unpacked = unpackDicomZipOffThread(file, image, 4 * s.maxUpload, name, s.closing.signal);
      s.unpacking.add(unpacked);
      try {
        await unpacked;
      } finally {
        s.unpacking.delete(unpacked);
      }
    }
    const cleanup = image === file ? [file] : [file, image];
    sendJson(res, 202, s.jobs.submit({ title: name, model, modelPath, image, label: null, caseId: name, cleanup }));
  } catch (e) {
    rmSync(file, { force: true });
    rmSync(`${file}.series`, { recursive: true, force: true });
    throw e;
  } finally {
    s.uploading--;
  }
};

/** GET endpoints by their exact path. */
const GET_ROUTES = new Map<string, Handler>([
  ['/', sendIndex],
  ['/index.html', sendIndex],
  ['/api/index', (s, _req, res) => sendJson(res, 200, { root: s.root, ...scan(s.root), jobs: s.jobs.list() })],
  ['/api/run', (s, _req, res, url) => sendJson(res, 200, runDetail(s.root, resolveInside(s.root, param(url, 'path'))))],
  ['/api/run/curves.svg', sendCurves],
  ['/api/run/events', (s, _req, res, url) => liveRecords(s, res, resolveInside(s.root, param(url, 'path')))],
  [
    '/api/experiment',
    (s, _req, res, url) => sendJson(res, 200, experimentDetail(s.root, resolveInside(s.root, param(url, 'path')))),
  ],
  ['/api/jobs', (s, _req, res) => sendJson(res, 200, s.jobs.list())],
]);

/** POST endpoints by their exact path. */
const POST_ROUTES = new Map<string, Handler>([
  ['/api/jobs/case', submitCase],
  ['/api/jobs/upload', submitUpload],
]);

function getHandler(path: string): Handler | undefined {
  const exact = GET_ROUTES.get(path);
  if (exact) return exact;
  if (path.startsWith('/assets/')) return sendAsset;
  if (path.startsWith('/files/')) return sendServedFile;
  if (JOB_PATH.test(path)) return sendJob;
  return undefined;
}

async function route(s: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { url, method } = checkRequest(s, req);
  const path = url.pathname;
  const handler = method === 'GET' ? getHandler(path) : method === 'POST' ? POST_ROUTES.get(path) : undefined;
  if (handler) {
    await handler(s, req, res, url);
    return;
  }
  if (path.startsWith('/api/') || path.startsWith('/files/'))
    throw new HttpError(404, `${method} ${path}: no such endpoint`);
  throw new HttpError(404, `${path}: not found`);
}

/** Answers a failed request with its status and a message (or drops the connection once a reply has begun). */
function replyError(res: ServerResponse, e: unknown): void {
  const status = statusOf(e); // by the error's class and code, never its message
  if (res.headersSent) res.destroy();
  else if (e instanceof SyntaxError) sendError(res, status, `bad JSON in the request: ${e.message}`);
  else if (e instanceof URIError) sendError(res, status, 'bad percent-encoding in the URL');
  else if (status < 500) sendError(res, status, (e as Error).message);
  else sendError(res, status, `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

/** The state a server starts from, after checking the folder and the page. */
function initialState(o: ServeOptions, host: string): ServerState {
  if (!existsSync(o.root) || !statSync(o.root).isDirectory()) {
    throw new ComboSegError(`${o.root}: no such folder to serve`, { code: 'not-found', path: o.root });
  }
  const root = realpathSync(o.root);
  const webDir = o.webDir ?? DEFAULT_WEB_DIR;
  if (!existsSync(join(webDir, 'index.html'))) {
    throw new ComboSegError(
      `${webDir}/index.html is missing: build the page with 'npm run build:web' (npm run setup does it)`,
      { code: 'not-found', path: join(webDir, 'index.html') },
    );
  }
  const maxUpload = o.maxUploadBytes ?? 512 * 2 ** 20;
  const jobs = new JobQueue(mkdtempSync(join(tmpdir(), 'comboseg-jobs-')), {
    concurrency: o.concurrency ?? 1,
    device: o.device ?? 'cpu',
    precision: o.precision ?? 'auto',
    maxQueued: o.maxQueued ?? 16,
    keepFinished: 64,
  });
  const uploads = mkdtempSync(join(tmpdir(), 'comboseg-uploads-'));
  const uploadIdleMs = o.uploadIdleMs ?? UPLOAD_IDLE_MS;
  return {
    root,
    webDir,
    jobs,
    uploads,
    local: LOCAL_HOSTS.has(host),
    maxUpload,
    uploadIdleMs,
    streams: new Set(),
    uploading: 0,
    unpacking: new Set(),
    closing: new AbortController(),
  };
}

export async function serve(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const s = initialState(o, host);
  const server = createServer((req, res) => {
    route(s, req, res).catch((e: unknown) => {
      replyError(res, e);
    });
  });
  server.requestTimeout = 30 * 60_000; // large uploads on slow links, but not forever
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE') {
        reject(e);
        return;
      }
      const why = `port ${o.port} is in use; choose another with --port`;
      reject(new ComboSegError(why, { code: 'conflict', path: '--port', cause: e }));
    });
    server.listen(o.port ?? 8765, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    jobs: s.jobs,
    async close() {
      s.closing.abort();
      for (const st of s.streams) st.end();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await s.jobs.close();
      await Promise.allSettled([...s.unpacking]); // their threads stopped: nothing writes into the folder below
      rmSync(s.uploads, { recursive: true, force: true });
    },
  };
}
