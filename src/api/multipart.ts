import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import type { Context } from 'hono';
import { HttpError } from '../domain/errors.ts';
import type { AppEnv } from './deps.ts';

export interface ReceivedFile {
  size: number;
  filename: string | null;
  contentType: string | null;
}

/**
 * A name or type a client sent, kept only as a label (never a path or an argument): without
 * control characters (Postgres refuses NUL), at most 255 characters, null when empty.
 */
export const clientText = (s: string | undefined | null): string | null =>
  s?.replace(/[\u0000-\u001F\u007F]/g, '').slice(0, 255) || null;

class FileTooLarge extends Error {}

/** Room for multipart boundaries and headers around the file in Content-Length. */
export const multipartOverhead = 64 * 1024;

export interface ReceiveOptions {
  /** The error past maxSize (a 413 naming the setting). */
  tooLarge: HttpError;
  /** Text fields taken beside the file (any other is refused); none by default. */
  fields?: readonly string[];
}

/**
 * Streams the multipart field "file" straight into storage, never holding the whole file, and
 * collects the text fields `fields` names. Past `maxSize` the write is aborted and its partial
 * object discarded; so is it when the request is refused for any other reason.
 */
export async function receiveFile(
  c: Context<AppEnv>,
  key: string,
  maxSize: number,
  options: ReceiveOptions,
): Promise<ReceivedFile & { fields: Record<string, string> }> {
  const allowed = options.fields ?? [];
  const fields: Record<string, string> = {};
  const { storage } = c.var.deps;
  const contentType = c.req.header('content-type') ?? '';
  if (!c.req.header('content-length') && !c.req.header('transfer-encoding')) {
    throw new HttpError(400, 'the request has no body: send multipart/form-data with a field named "file"');
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      limits: { files: 1, fileSize: maxSize, fields: 20, parts: 30, fieldSize: 4096 },
    });
  } catch {
    throw new HttpError(400, 'malformed multipart/form-data (missing boundary?)');
  }
  // On Node, read the request itself: the web stream of c.req.raw costs about half the throughput
  // (bench:upload). c.req.raw.body must then stay untouched: creating it starts a second reader.
  const raw = (c.env as { incoming?: Readable } | undefined)?.incoming;
  // Only while nobody has started reading it (the web body, once created, is its reader).
  const incoming =
    raw && !raw.readableDidRead && raw.listenerCount('data') === 0 && raw.listenerCount('readable') === 0 ? raw : null;
  const webBody = incoming ? null : c.req.raw.body;
  if (!incoming && !webBody) throw new HttpError(400, 'the request has no body');
  const input = incoming ?? Readable.fromWeb(webBody as unknown as WebReadableStream);
  return new Promise((resolve, reject) => {
    let stored: Promise<ReceivedFile> | null = null;
    let current: Readable | null = null;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      // End the store's write, and drop what it wrote: a refused upload keeps nothing.
      current?.destroy();
      void stored
        ?.catch(() => undefined)
        .then(() => storage.deletePrefix(key))
        .catch(() => undefined);
      input.unpipe(parser);
      input.resume(); // drain the rest so the client gets our answer
      reject(err);
    };
    const only = () =>
      allowed.length ? `the fields taken are file, ${allowed.join(', ')}` : 'only the field "file" is taken';
    parser.on('field', (name, value) => {
      if (!allowed.includes(name)) fail(new HttpError(400, `unexpected form field ${JSON.stringify(name)}: ${only()}`));
      else if (name in fields) fail(new HttpError(400, `form field ${JSON.stringify(name)} is given twice`));
      else fields[name] = value;
    });
    parser.on('file', (field, stream, info) => {
      if (failed) {
        // Parts the parser had already buffered when the request was refused.
        stream.resume();
        return;
      }
      if (field !== 'file' || stored) {
        stream.resume();
        fail(
          new HttpError(
            400,
            field !== 'file' ? `unexpected form field ${JSON.stringify(field)}: ${only()}` : 'only one file is taken',
          ),
        );
        return;
      }
      current = stream;
      // Errors reach the store through its pipeline; this listener keeps a late one (after a
      // refusal) from being an unhandled 'error' event that would stop the process.
      stream.on('error', () => undefined);
      stream.on('limit', () => stream.destroy(new FileTooLarge()));
      stored = storage.put(key, stream).then(
        (size) => ({ size, filename: clientText(info.filename), contentType: clientText(info.mimeType) }),
        (err: Error) => {
          throw err instanceof FileTooLarge ? options.tooLarge : err;
        },
      );
      stored.catch(fail);
    });
    parser.on('error', () => fail(new HttpError(400, 'malformed multipart/form-data body')));
    // busboy drops a file past its limit of one without a word: a second file is refused, not ignored.
    parser.on('filesLimit', () => fail(new HttpError(400, 'only one file is taken')));
    input.on('error', () => fail(new HttpError(400, 'the upload was interrupted')));
    parser.on('close', () => {
      if (failed) return;
      if (!stored) return fail(new HttpError(400, 'multipart field "file" is missing'));
      stored.then((file) => resolve({ ...file, fields }), fail);
    });
    input.pipe(parser);
  });
}
