import type { HttpBindings, Http2Bindings } from '@hono/node-server';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';

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
    (env.outgoing as HttpBindings['outgoing']).writeHead(res.status, headers);
    // A viewer that goes away mid-file ends the pipeline with an error: the file is closed with it.
    pipeline(body, env.outgoing as HttpBindings['outgoing']).catch(() => undefined);
    return RESPONSE_ALREADY_SENT;
  };
}
