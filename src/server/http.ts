// Small HTTP helpers: JSON replies, errors as JSON with a status, bounded
// request bodies, and static files with their content type.
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the client caused (or may see): its status and a message, sent as {"error": message}. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export const sendError = (res: ServerResponse, status: number, message: string): void => sendJson(res, status, { error: message });

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.jsonl': 'application/x-ndjson; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip', '.nii': 'application/octet-stream', '.wasm': 'application/wasm', '.map': 'application/json',
};

/** Streams a file; `download` names it for saving. */
export function sendFile(res: ServerResponse, path: string, download?: string): void {
  const st = statSync(path);
  const headers: Record<string, string | number> = { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-length': st.size, 'x-content-type-options': 'nosniff' };
  if (download) headers['content-disposition'] = `attachment; filename="${download.replace(/[^\w.-]/g, '_')}"`;
  res.writeHead(200, headers);
  createReadStream(path).pipe(res);
}

/** The request body, refused with 413 as soon as it would exceed `limit` bytes (the rest is not read). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const size = limit >= 2 ** 20 ? `${+(limit / 2 ** 20).toFixed(1)} MiB` : `${+(limit / 1024).toFixed(1)} KiB`;
  const tooBig = () => new HttpError(413, `upload too large: the limit is ${size} (serve --max-upload-mib)`);
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
