import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface ByteRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface StoredObject {
  size: number;
  modified: Date;
  /** The store's tag of this version of the object, where it has one (S3's ETag). */
  etag?: string;
}

/**
 * Set by a local store on the stream `get` returns: the open file and the bytes the stream would
 * read (inclusive), for a server that sends them itself (src/api/file-bodies.ts) instead of
 * through the stream. Destroying the stream closes the file.
 */
export const fileSource = Symbol('gilfoyle.fileSource');
export interface FileSource {
  handle: FileHandle;
  start: number;
  end: number;
}

/** Where sources and renditions live. Keys are '/'-separated, relative, chosen by Gilfoyle. */
/** Headers the store's answer to a read URL is to carry (a download's name and type). */
export interface ReadUrlAnswer {
  contentType?: string;
  contentDisposition?: string;
}

export interface StorageDriver {
  readonly name: string;
  /** Streams `body` into `key`; the object appears whole or not at all. Returns its size. */
  put(key: string, body: Readable | Buffer | string): Promise<number>;
  /** Copies a local file into `key`. */
  putFile(key: string, localPath: string): Promise<void>;
  /**
   * Streams the object (or a byte range of it); throws StorageNotFoundError when missing. Given
   * `expected` (its stat), throws StorageChangedError when the object was replaced since: the
   * length and range an answer was built on are then not the bytes it would send.
   */
  get(key: string, range?: ByteRange, expected?: StoredObject): Promise<Readable>;
  /** Copies the object to a local file (a worker's temp folder). */
  getToFile(key: string, localPath: string): Promise<void>;
  /**
   * The object's own file when the store is a local folder, for reading in place (never for
   * writing): ffmpeg then reads it without a copy. Null when the store is remote (S3), or
   * when the object is missing.
   */
  localFile(key: string): Promise<string | null>;
  /**
   * A URL a worker's ffmpeg reads the object from, with ranged requests (a chunk reads its own
   * part of a source, not the whole file): presigned, never a public or CDN URL. Null when the
   * store is a local folder (read the file) or cannot presign.
   */
  readUrl(key: string, expiresSeconds: number, answer?: ReadUrlAnswer): Promise<string | null>;
  stat(key: string): Promise<StoredObject | null>;
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under `prefix`; returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Throws when the store cannot be used (health check). */
  check(): Promise<void>;
  /**
   * A URL a client can GET the object from without Gilfoyle (CDN base URL or presigned), or
   * null when the store has none (the filesystem): the API then serves the bytes itself.
   */
  directUrl(key: string, expiresSeconds: number): Promise<string | null>;
  /**
   * A presigned PUT URL for exactly `size` bytes, or null when the store cannot take uploads
   * directly. The PUT must carry `If-None-Match: *` (signed): it creates the object, never
   * replaces it, so a URL that leaked cannot overwrite what it uploaded.
   */
  uploadUrl(key: string, size: number, expiresSeconds: number, contentType?: string): Promise<string | null>;
}

/** A body that can be written again (a buffer or text), unlike a stream, which can be read once. */
export const isRepeatableBody = (body: Readable | Buffer | string): body is Buffer | string =>
  typeof body === 'string' || Buffer.isBuffer(body);

/** The object was replaced between the stat an answer was built on and its read. */
export class StorageChangedError extends Error {
  constructor(readonly key: string) {
    super(`${key} changed while it was read`);
    this.name = 'StorageChangedError';
  }
}

/** The store cannot be reached or refuses Gilfoyle's credentials: the API answers 503, activities retry. */
export class StorageUnavailableError extends Error {
  /**
   * Whether waiting may cure it: the store down, restarting or failing (true), not refusing
   * Gilfoyle's credentials or bucket, nor a local file error on the way (false).
   */
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
    this.transient = options?.transient ?? true;
  }
}

export class StorageNotFoundError extends Error {
  constructor(key: string) {
    super(`no stored object at ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

export class InvalidKeyError extends Error {
  constructor(key: string) {
    super(`invalid storage key: ${JSON.stringify(key)}`);
    this.name = 'InvalidKeyError';
  }
}
