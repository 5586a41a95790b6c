// `comboseg serve`: the viewer page, the runs and experiments under a folder,
// live training curves, and segmentation jobs. Bound to 127.0.0.1 unless asked;
// every client-named path stays inside the folder; errors are JSON.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ComboSegError } from '../engine/errors.js';
import { resolveModelPath } from '../training/run-dir.js';
import { trainingCurvesSpec, vegaLiteSvg } from '../experiments/plots.js';
import { experimentDetail, runCase, runDetail, scan } from './catalog.js';
import { readEpochRecords, RunDir } from '../training/run-dir.js';
import { HttpError, readBody, saveBody, sendError, sendFile, sendJson, statusOf } from './http.js';
import { JobQueue } from './jobs.js';
import { relativeTo, resolveInside } from './paths.js';
import { checkUpload, checkUploadName } from './upload.js';

export interface ServeOptions {
  /** The folder whose runs and experiments are served. */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  maxUploadBytes?: number;
  /** Jobs running at once (each uses all libtorch threads; 1 suits 2 cores). */
  concurrency?: number;
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

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

export async function serve(o: ServeOptions): Promise<RunningServer> {
  if (!existsSync(o.root) || !statSync(o.root).isDirectory()) {
    throw new ComboSegError(`${o.root}: no such folder to serve`, { code: 'not-found', path: o.root });
  }
  const root = realpathSync(o.root);
  const host = o.host ?? '127.0.0.1';
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
    maxQueued: o.maxQueued ?? 16,
    keepFinished: 64,
  });
  const uploads = mkdtempSync(join(tmpdir(), 'comboseg-uploads-'));
  const local = LOCAL_HOSTS.has(host);
  let uploading = 0;
  const streams = new Set<ServerResponse>();

  const param = (url: URL, name: string): string => {
    const v = url.searchParams.get(name);
    if (v === null || v === '') throw new HttpError(400, `missing query parameter '${name}'`);
    return v;
  };
  const modelOf = (rel: string) => {
    const dir = resolveInside(root, rel);
    try {
      return resolveModelPath(dir);
    } catch (e) {
      if (!(e instanceof ComboSegError)) throw e;
      // No model there (404), named as the client named it, not by where it lies on this machine.
      const message = e.message.split(e.path ?? dir).join(`'${rel}'`);
      throw e.rewrap(message, { code: 'not-found', path: rel });
    }
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page on another site must not drive a localhost server through DNS rebinding.
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (local && !LOCAL_HOSTS.has(hostHeader))
      throw new HttpError(403, `host '${hostHeader}' refused: this server answers on localhost only`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    // Requests that start work must come from this page: a custom header forces a CORS
    // preflight (which this server never grants), and browsers mark cross-site requests.
    if (
      method === 'POST' &&
      (req.headers['x-comboseg'] !== '1' || ['cross-site', 'same-site'].includes(String(req.headers['sec-fetch-site'])))
    ) {
      throw new HttpError(403, 'POST requests need the header "x-comboseg: 1" and must come from this server\'s page');
    }
    if (method === 'GET' && (path === '/' || path === '/index.html')) return sendFile(res, join(webDir, 'index.html'));
    if (method === 'GET' && path.startsWith('/assets/'))
      return sendFile(res, resolveInside(realpathSync(webDir), decodeURIComponent(path.slice(1))));
    if (method === 'GET' && path.startsWith('/files/')) {
      const file = resolveInside(root, decodeURIComponent(path.slice('/files/'.length)));
      if (!statSync(file).isFile()) throw new HttpError(404, `'${relativeTo(root, file)}' is a folder`);
      // Files under DIR are shown, never run: an HTML or SVG file there gets no scripts and no access to this origin.
      return sendFile(res, file, undefined, {
        'content-security-policy': "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
      });
    }
    if (method === 'GET' && path === '/api/index')
      return sendJson(res, 200, { root, ...scan(root), jobs: jobs.list() });
    if (method === 'GET' && path === '/api/run')
      return sendJson(res, 200, runDetail(root, resolveInside(root, param(url, 'path'))));
    if (method === 'GET' && path === '/api/run/curves.svg') {
      const dir = resolveInside(root, param(url, 'path'));
      const svg = await vegaLiteSvg(trainingCurvesSpec(readEpochRecords(dir)));
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' });
      return void res.end(svg);
    }
    if (method === 'GET' && path === '/api/run/events')
      return liveRecords(res, resolveInside(root, param(url, 'path')));
    if (method === 'GET' && path === '/api/experiment')
      return sendJson(res, 200, experimentDetail(root, resolveInside(root, param(url, 'path'))));
    if (method === 'POST' && path === '/api/jobs/case') {
      const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8') || '{}') as {
        run?: unknown;
        case?: unknown;
        model?: unknown;
      } | null;
      if (!body || typeof body !== 'object')
        throw new HttpError(400, 'the request body must be a JSON object {"run": ..., "case": ...}');
      if (typeof body.run !== 'string' || typeof body.case !== 'string')
        throw new HttpError(400, 'give "run" (a run folder) and "case" (a case id) as strings');
      const runDir = resolveInside(root, body.run);
      const model = typeof body.model === 'string' ? body.model : body.run;
      const c = runCase(root, runDir, body.case);
      const job = jobs.submit({
        title: c.id,
        model,
        modelPath: modelOf(model),
        image: c.image,
        label: c.label ?? null,
        caseId: c.id,
      });
      return sendJson(res, 202, job);
    }
    if (method === 'POST' && path === '/api/jobs/upload') {
      const name = basename(param(url, 'filename'));
      const model = param(url, 'model');
      const modelPath = modelOf(model);
      checkUploadName(name);
      jobs.checkCapacity(); // before reading a large body
      if (uploading >= MAX_UPLOADS)
        throw new HttpError(429, `${uploading} uploads are in progress; try again when one has finished`);
      uploading++;
      const file = join(
        uploads,
        `${Date.now()}-${Math.random().toString(36).slice(2)}${name.toLowerCase().endsWith('.nii.gz') ? '.nii.gz' : name.slice(name.lastIndexOf('.'))}`,
      );
      try {
        const size = await saveBody(req, res, file, maxUpload);
        checkUpload(name, readHead(file, 64 * 1024), size);
        return sendJson(
          res,
          202,
          jobs.submit({ title: name, model, modelPath, image: file, label: null, caseId: name, cleanup: [file] }),
        );
      } catch (e) {
        rmSync(file, { force: true });
        throw e;
      } finally {
        uploading--;
      }
    }
    const jobMatch = /^\/api\/jobs\/([0-9a-f-]{36})(?:\/([a-z]+\.nii\.gz))?$/.exec(path);
    if (method === 'GET' && jobMatch) {
      const job = jobs.get(jobMatch[1]);
      if (!jobMatch[2]) return sendJson(res, 200, job);
      if (job.state !== 'done')
        throw new HttpError(409, `job ${job.id} is ${job.state}; its files come when it is done`);
      if (!job.files.includes(jobMatch[2])) throw new HttpError(404, `job ${job.id} has no ${jobMatch[2]}`);
      const download = url.searchParams.has('download')
        ? `${job.title.replace(/\.(nii\.gz|nii|nrrd|mha)$/i, '')}_${jobMatch[2]}`
        : undefined;
      return sendFile(res, join(jobs.folder(job.id), jobMatch[2]), download);
    }
    if (method === 'GET' && path === '/api/jobs') return sendJson(res, 200, jobs.list());
    if (path.startsWith('/api/') || path.startsWith('/files/'))
      throw new HttpError(404, `${method} ${path}: no such endpoint`);
    throw new HttpError(404, `${path}: not found`);
  }

  /** Server-sent events: the run's records whenever metrics.jsonl changes (polled: fs.watch misses atomic renames). */
  function liveRecords(res: ServerResponse, dir: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    streams.add(res);
    const file = new RunDir(dir).metricsPath;
    let last = '';
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearInterval(timer);
      streams.delete(res);
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
    tick();
    timer = setInterval(tick, 1000);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      const status = statusOf(e); // by the error's class and code, never its message
      if (e instanceof SyntaxError) return sendError(res, status, `bad JSON in the request: ${e.message}`);
      if (e instanceof URIError) return sendError(res, status, 'bad percent-encoding in the URL');
      if (status < 500) return sendError(res, status, (e as Error).message);
      sendError(res, status, `internal error: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
  server.requestTimeout = 30 * 60_000; // large uploads on slow links, but not forever
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE') return reject(e);
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
    jobs,
    async close() {
      for (const s of streams) s.end();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await jobs.close();
      rmSync(uploads, { recursive: true, force: true });
    },
  };
}
