import { pipeline, Readable, Transform } from 'node:stream';
import { ApplicationFailure } from '@temporalio/activity';
import { fetch } from 'undici';
import { FailureType } from '../domain/errors.ts';
import { processingStatuses, type SourceKind } from '../domain/status.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { activityContext, withHeartbeat } from './context.ts';
import { forbiddenLiteral, guardedAgent, privateAddressCode } from './guarded-agent.ts';
import type { ActivityDeps, UrlFetchSettings } from './deps.ts';
import { claimRun, thisRun } from './media-guard.ts';

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, FailureType.InvalidMedia);

/**
 * Streams an http(s) URL into storage, capped at `maxBytes`, within `timeoutMs`. Every address
 * connected to (redirects included) is checked when the name is resolved, so neither a name
 * nor a redirect can lead to a private or loopback address unless that is allowed.
 */
export async function fetchUrlToStorage(
  url: string,
  key: string,
  storage: StorageDriver,
  s: UrlFetchSettings,
  signal?: AbortSignal,
): Promise<number> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw invalid(`only http and https URLs can be fetched, not ${parsed.protocol}`);
  const checkLiteral = (u: URL) => {
    const why = forbiddenLiteral(u, s.allowPrivateAddresses);
    if (why) throw invalid(`refused to fetch ${u.origin}: ${why}`);
  };
  checkLiteral(parsed);
  const agent = guardedAgent(s.allowPrivateAddresses);
  const timeout = AbortSignal.timeout(s.timeoutMs);
  const aborted = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    let current = parsed;
    let res;
    for (let hop = 0; ; hop++) {
      try {
        res = await fetch(current, { dispatcher: agent, redirect: 'manual', signal: aborted });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        if (cause?.code === privateAddressCode) throw invalid(cause.message ?? 'refused a private address');
        if (timeout.aborted) throw new Error(`fetching ${current.origin} timed out after ${s.timeoutMs} ms`);
        throw err;
      }
      if (res.status < 300 || res.status >= 400) break;
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (!location || hop >= 5)
        throw invalid(`${url} redirects ${location ? 'more than 5 times' : 'without a Location'}`);
      current = new URL(location, current);
      if (current.protocol !== 'http:' && current.protocol !== 'https:')
        throw invalid(`${url} redirects to a ${current.protocol} URL`);
      checkLiteral(current);
    }
    if (res.status >= 400) {
      await res.body?.cancel();
      const message = `${current.href} answered ${res.status} ${res.statusText}`;
      // A server error may pass; a client error (404, 403…) will not.
      if (res.status >= 500 || res.status === 429) throw new Error(message);
      throw invalid(message);
    }
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > s.maxBytes) {
      await res.body?.cancel();
      throw invalid(
        `the file at ${current.href} is ${declared} bytes, larger than the maximum of ${s.maxBytes} (max_file_size)`,
      );
    }
    if (!res.body) throw invalid(`${current.href} sent no body`);
    let received = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        if (received > s.maxBytes)
          done(
            invalid(`the file at ${current.href} is larger than the maximum of ${s.maxBytes} bytes (max_file_size)`),
          );
        else done(null, chunk);
      },
    });
    // pipeline, not pipe: a connection dropped mid-body must fail the write, not end it short.
    const body = pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), cap, () => undefined);
    return await storage.put(key, body);
  } finally {
    await agent.close();
  }
}

export const createFetchSourceActivities = (deps: ActivityDeps) => ({
  /** Upload from URL: streams the remote file into the media's source, capped and timed out. */
  async fetchSourceFromUrl({
    mediaId,
    sourceKey,
    url,
    kind,
  }: {
    mediaId: string;
    sourceKey: string;
    url: string;
    kind: SourceKind;
  }): Promise<number> {
    const ctx = activityContext();
    await claimRun(deps, ctx, mediaId);
    let size = 0;
    await withHeartbeat(
      ctx,
      () => ({ step: 'fetch' }),
      async () => {
        size = await fetchUrlToStorage(url, sourceKey, deps.storage, deps.urlFetch, ctx?.cancellationSignal);
      },
    );
    deps.metrics?.uploadBytes.inc({ kind, via: 'url' }, size);
    await deps.medias.setState(
      mediaId,
      { sourceSize: size },
      {
        type: 'media.fetched',
        message: `fetched ${size} bytes from ${new URL(url).origin}`,
        data: { url, size },
      },
      thisRun(processingStatuses),
    );
    return size;
  },
});
