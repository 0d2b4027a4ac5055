import type { HttpBindings, Http2Bindings } from '@hono/node-server';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ServerResponse } from 'node:http';
import { fileSource, type FileSource } from '../storage/driver.ts';

/** The header by which an answer says its body is the file handed to `sendFile` (never sent out). */
export const fileBodyHeader = 'x-gilfoyle-file-body';

/** What the HTTP server adds to a request's env: a stored file to send as the answer's body. */
export interface FileBodies {
  /** Keeps `body` for the answer; the handler answers with no body and `fileBodyHeader` set. */
  sendFile(body: Readable): string;
}

type NodeEnv = HttpBindings | Http2Bindings;

/**
 * The app's fetch for @hono/node-server, with a fast path for stored files: an answer whose
 * body is a file (a segment, a download) is written by piping the file's stream into the socket,
 * after every middleware has had its say on the status and headers, instead of through a web
 * ReadableStream (a promise and a copy per chunk). Anything else is answered as Hono made it.
 */
export function withFileBodies(fetch: (req: Request, env: NodeEnv & FileBodies) => Response | Promise<Response>) {
  return async (req: Request, env: NodeEnv): Promise<Response> => {
    let body: Readable | undefined;
    const res = await fetch(req, {
      ...env,
      sendFile: (b) => {
        body?.destroy();
        body = b;
        return '1';
      },
    });
    if (!body) return res;
    if (!res.headers.has(fileBodyHeader)) {
      // The answer became another one (an error after the file was opened): the file is closed.
      body.destroy();
      return res;
    }
    const headers: Record<string, string | string[]> = {};
    res.headers.forEach((value, name) => {
      if (name !== fileBodyHeader && name !== 'set-cookie') headers[name] = value;
    });
    const cookies = res.headers.getSetCookie();
    if (cookies.length) headers['set-cookie'] = cookies;
    const out = env.outgoing as HttpBindings['outgoing'];
    out.writeHead(res.status, headers);
    const source = (body as Readable & { [fileSource]?: FileSource })[fileSource];
    if (source) void sendFileSource(source, body, out);
    // A viewer that goes away mid-file ends the pipeline with an error: the file is closed with it.
    else pipeline(body, out).catch(() => undefined);
    return RESPONSE_ALREADY_SENT;
  };
}

/** Bytes per read of a file sent by `sendFileSource`; at most `poolSize` such buffers are kept for reuse. */
const chunkBytes = 1024 * 1024;
const poolSize = 32;
const pool: Buffer[] = [];

/**
 * Sends the bytes of an open file into the socket: read into buffers that are used again once the
 * socket has taken them (no allocation, page faults or GC per request, as a stream's fresh chunks
 * cost), the next one read while the last is written. The file is closed at the end, and as soon
 * as the viewer goes away.
 */
async function sendFileSource(source: FileSource, body: Readable, out: ServerResponse) {
  const gone = new Promise<'gone'>((resolve) => out.once('close', () => resolve('gone')));
  // Resolves once `chunk` is handed to the kernel (its buffer may then be reused), or the viewer is gone.
  const write = (chunk: Buffer) =>
    Promise.race([
      new Promise<'written' | 'gone'>((resolve) => out.write(chunk, (err) => resolve(err ? 'gone' : 'written'))),
      gone,
    ]);
  let writing: Promise<'written' | 'gone'> | undefined;
  try {
    for (let at = source.start; at <= source.end;) {
      const buffer = pool.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
      const { bytesRead } = await source.handle.read(buffer, 0, Math.min(chunkBytes, source.end - at + 1), at);
      // Shorter than its stat said (truncated in place): the answer cannot be whole.
      if (bytesRead === 0 || (writing && (await writing)) === 'gone') {
        if (pool.length < poolSize) pool.push(buffer);
        out.destroy();
        return;
      }
      at += bytesRead;
      writing = write(buffer.subarray(0, bytesRead)).then((how) => {
        // A chunk still queued for a socket that is gone is not reused.
        if (how === 'written' && pool.length < poolSize) pool.push(buffer);
        return how;
      });
    }
    if ((await writing) !== 'gone') out.end();
  } catch {
    out.destroy();
  } finally {
    body.destroy();
  }
}
