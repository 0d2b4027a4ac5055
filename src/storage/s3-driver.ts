import { createReadStream, createWriteStream } from 'node:fs';
import { stat as statFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentTypeOf } from '../domain/media-types.ts';
import {
  InvalidKeyError,
  StorageChangedError,
  StorageNotFoundError,
  StorageUnavailableError,
  type StorageDriver,
} from './driver.ts';

export interface S3DriverOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Objects are public under this base (a CDN): direct URLs are base + key, unsigned. */
  publicUrl?: string;
  /** Part size of multipart uploads, bytes. */
  partSize?: number;
}

const isNotFound = (err: unknown) =>
  err instanceof S3ServiceException &&
  (err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404);

/** Network failures and refusals that no retry of the same request by the caller would fix now. */
function unavailable(err: unknown, what: string): unknown {
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode;
    if (
      err.name === 'NoSuchBucket' ||
      status === 403 ||
      err.name === 'InvalidAccessKeyId' ||
      err.name === 'SignatureDoesNotMatch'
    ) {
      return new StorageUnavailableError(`object store refused ${what}: ${err.name} ${err.message}`, {
        cause: err,
        transient: false,
      });
    }
    if (status !== undefined && status >= 500)
      return new StorageUnavailableError(`object store failed ${what}: ${err.name}`, { cause: err });
    return err;
  }
  if (err instanceof StorageUnavailableError || err instanceof InvalidKeyError) return err;
  // Anything else the SDK throws is the transport failing (refused, reset, timed out, DNS), or
  // the local file of a putFile or getToFile (missing, disk full), which waiting does not cure.
  const e = err as { code?: string; errors?: { code?: string }[]; message?: string; path?: unknown };
  const code = e?.code ?? e?.errors?.[0]?.code ?? e?.message ?? String(err);
  if (typeof e?.path === 'string')
    return new StorageUnavailableError(`local file error during ${what}: ${code}`, { cause: err, transient: false });
  return new StorageUnavailableError(`object store unreachable during ${what}: ${code}`, { cause: err });
}

const checkKey = (key: string) => {
  if (!key || key.startsWith('/') || key.includes('\0') || key.split('/').some((p) => p === '..' || p === '.'))
    throw new InvalidKeyError(key);
  return key;
};

/** Objects in one bucket of AWS S3 or any S3-compatible store (MinIO, Ceph, R2…). */
export function createS3Driver(o: S3DriverOptions): StorageDriver {
  const client = new S3Client({
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials:
      o.accessKeyId && o.secretAccessKey
        ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey }
        : undefined,
    // Our own retries (Temporal's) are the ones that span an outage; keep the SDK's short.
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = o.bucket;

  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err, `${what} (bucket ${Bucket})`);
    }
  };

  async function putStream(key: string, body: Readable | Buffer | string): Promise<number> {
    let size = 0;
    const counted =
      typeof body === 'string' || Buffer.isBuffer(body)
        ? body
        : body.on('data', (chunk: Buffer) => {
            size += chunk.length;
          });
    // lib-storage: one PUT for small bodies, multipart for large ones, never the whole body in memory.
    const upload = new Upload({
      client,
      params: { Bucket, Key: checkKey(key), Body: counted, ContentType: contentTypeOf(key) },
      partSize: o.partSize ?? 5 * 1024 * 1024,
      queueSize: 2,
    });
    await guard(`upload of ${key}`, () => upload.done());
    return typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : size;
  }

  async function listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await guard(`listing ${prefix}`, () =>
        client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken })),
      );
      for (const obj of page.Contents ?? []) if (obj.Key) keys.push(obj.Key);
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys.sort();
  }

  return {
    name: 's3',

    put: putStream,

    async putFile(key, localPath) {
      await putStream(key, createReadStream(localPath));
    },

    async get(key, range, expected) {
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket,
            Key: checkKey(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
            // Only the version the answer was built on.
            IfMatch: expected?.etag,
          }),
        );
        return res.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) throw new StorageNotFoundError(key);
        if (expected?.etag && err instanceof S3ServiceException && err.$metadata?.httpStatusCode === 412)
          throw new StorageChangedError(key);
        throw unavailable(err, `read of ${key} (bucket ${Bucket})`);
      }
    },

    async getToFile(key, localPath) {
      const body = await this.get(key);
      await guard(`download of ${key}`, () => pipeline(body, createWriteStream(localPath)));
      // A dropped connection can end a stream early without an error: compare sizes.
      const expected = await this.stat(key);
      const { size } = await statFile(localPath);
      if (expected && expected.size !== size)
        throw new StorageUnavailableError(`download of ${key} ended at ${size} of ${expected.size} bytes`);
    },

    async localFile() {
      return null;
    },

    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: checkKey(key) }));
        return { size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0), etag: head.ETag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw unavailable(err, `stat of ${key} (bucket ${Bucket})`);
      }
    },

    list: listKeys,

    async deletePrefix(prefix) {
      const keys = await listKeys(prefix);
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const res = await guard(`delete under ${prefix}`, () =>
          client.send(
            new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          ),
        );
        if (res.Errors?.length)
          throw new StorageUnavailableError(
            `could not delete ${res.Errors.length} object(s) under ${prefix}: ${res.Errors[0]?.Message}`,
          );
      }
      return keys.length;
    },

    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (err) {
        if (isNotFound(err))
          throw new StorageUnavailableError(`bucket ${Bucket} does not exist`, { cause: err, transient: false });
        throw unavailable(err, `access to bucket ${Bucket}`);
      }
    },

    async readUrl(key, expiresSeconds, answer) {
      const command = new GetObjectCommand({
        Bucket,
        Key: checkKey(key),
        ResponseContentType: answer?.contentType,
        ResponseContentDisposition: answer?.contentDisposition,
      });
      return getSignedUrl(client, command, { expiresIn: expiresSeconds });
    },

    async directUrl(key, expiresSeconds) {
      if (o.publicUrl)
        return `${o.publicUrl.replace(/\/+$/, '')}/${checkKey(key).split('/').map(encodeURIComponent).join('/')}`;
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: checkKey(key) }), { expiresIn: expiresSeconds });
    },

    async uploadUrl(key, size, expiresSeconds, contentType) {
      // Content-Length is signed: the store refuses a body of any other size. So is If-None-Match:
      // the PUT succeeds only while the object does not exist, so the URL cannot replace what it uploaded.
      return getSignedUrl(
        client,
        new PutObjectCommand({
          Bucket,
          Key: checkKey(key),
          ContentLength: size,
          ContentType: contentType,
          IfNoneMatch: '*',
        }),
        {
          expiresIn: expiresSeconds,
          signableHeaders: new Set(['content-length', 'if-none-match', ...(contentType ? ['content-type'] : [])]),
        },
      );
    },
  };
}
