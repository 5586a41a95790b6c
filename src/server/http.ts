// Small HTTP helpers: JSON replies, errors as JSON with a status, bounded
// request bodies, and static files with their content type.
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { basename, extname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ComboSegError, type ErrorCode } from '../engine/errors.js';

/** An error the client caused (or may see): its status and a message, sent as {"error": message}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

/** The status of a ComboSegError by its code; any other code is the client's request at fault (400). */
const STATUS: Partial<Record<ErrorCode, number>> = { 'not-found': 404, conflict: 409 };

/**
 * The status a failed request answers with: an HttpError's own; a ComboSegError's from its
 * code (never from its message); bad JSON or percent-encoding 400; anything else 500.
 */
export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof SyntaxError || e instanceof URIError) return 400;
  if (e instanceof ComboSegError) return STATUS[e.code] ?? 400;
  return 500;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export const sendError = (res: ServerResponse, status: number, message: string): void =>
  sendJson(res, status, { error: message });

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip',
  '.nii': 'application/octet-stream',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** Streams a file; `download` names it for saving; `extra` adds headers. */
export async function sendFile(
  res: ServerResponse,
  path: string,
  download?: string,
  extra: Record<string, string> = {},
): Promise<void> {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new HttpError(404, `${basename(path)}: no such file`);
  }
  const headers: Record<string, string | number> = {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': size,
    'x-content-type-options': 'nosniff',
    ...extra,
  };
  if (download) headers['content-disposition'] = `attachment; filename="${download.replace(/[^\w.-]/g, '_')}"`;
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  }).catch(() => {
    throw new HttpError(404, `${basename(path)}: no such file`);
  });
  res.writeHead(200, headers);
  await pipeline(stream, res).catch(() => res.destroy()); // the client went away, or the file did
}

/**
 * Streams the request body into `path`, refused with 413 once it would exceed `limit` bytes
 * (reading stops there; the connection closes after the reply). Nothing is left on failure.
 */
/** How long an upload may send nothing before it is dropped (408), freeing its slot. */
export const UPLOAD_IDLE_MS = 60_000;

export async function saveBody(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  limit: number,
  idleMs = UPLOAD_IDLE_MS,
): Promise<number> {
  const declared = Number(req.headers['content-length']);
  const refuse = (e: HttpError) => {
    req.pause();
    res.setHeader('connection', 'close');
    res.once('finish', () => req.socket.destroy());
    return e;
  };
  if (Number.isFinite(declared) && declared > limit) throw refuse(tooLarge(limit));
  const out = createWriteStream(path);
  let n = 0;
  let idle: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      // A slow-body client (slowloris) holds a job slot only while it keeps sending.
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          req.removeAllListeners('data');
          reject(refuse(new HttpError(408, `the upload sent nothing for ${idleMs / 1000} s; send it again`)));
        }, idleMs);
      };
      arm();
      req.on('data', (chunk: Buffer) => {
        arm();
        n += chunk.length;
        if (n > limit) {
          req.removeAllListeners('data');
          reject(refuse(tooLarge(limit)));
          return;
        }
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => req.resume());
        }
      });
      req.once('end', resolve);
      req.once('aborted', () => reject(new HttpError(400, 'the upload was cut off')));
      req.once('error', reject);
      out.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  } catch (e) {
    out.destroy();
    rmSync(path, { force: true });
    throw e;
  } finally {
    clearTimeout(idle);
  }
  return n;
}

function tooLarge(limit: number): HttpError {
  const size = limit >= 2 ** 20 ? `${+(limit / 2 ** 20).toFixed(1)} MiB` : `${+(limit / 1024).toFixed(1)} KiB`;
  return new HttpError(413, `upload too large: the limit is ${size} (serve --max-upload-mib)`);
}

/** The request body, refused with 413 as soon as it would exceed `limit` bytes (the rest is not read). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooBig = () => tooLarge(limit);
  if (Number.isFinite(declared) && declared > limit) throw tooBig();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw tooBig();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
