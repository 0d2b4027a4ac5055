/**
 * Temporal failure types. Activities throw ApplicationFailure with one of these types when
 * retrying cannot help; the workflow lists them as non-retryable.
 */
export const FailureType = {
  /** Not media, corrupt, truncated, empty, or nothing decodable in it. */
  InvalidMedia: 'InvalidMedia',
  /** The media row is gone (deleted while processing). */
  MediaNotFound: 'MediaNotFound',
  /** The media is no longer waiting for this run (cancelled before it started, or a stale duplicate message). */
  MediaNotScheduled: 'MediaNotScheduled',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
export const nonRetryableFailureTypes: string[] = Object.values(FailureType);

/** Whether a failure says the run is not wanted any more (the media is gone, or no longer this run's): nothing is marked failed for it. */
export const isNotWanted = (type: string | null | undefined): boolean =>
  type === FailureType.MediaNotFound || type === FailureType.MediaNotScheduled;

/** Errors the API turns into a 4xx envelope: code and a message that names the problem. */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 415 | 425 | 416 | 429 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
