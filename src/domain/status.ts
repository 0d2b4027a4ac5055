/** The media lifecycle, with the exact status names of the Gilfoyle v1 API. */
export const MediaStatus = {
  AwaitingUpload: 'AwaitingUpload',
  ScheduledProcessing: 'ScheduledProcessing',
  Processing: 'Processing',
  Ready: 'Ready',
  Errored: 'Errored',
} as const;
export type MediaStatus = (typeof MediaStatus)[keyof typeof MediaStatus];
export const mediaStatuses = Object.values(MediaStatus) as [MediaStatus, ...MediaStatus[]];

export const RenditionStatus = {
  Pending: 'Pending',
  Encoding: 'Encoding',
  Ready: 'Ready',
  Errored: 'Errored',
} as const;
export type RenditionStatus = (typeof RenditionStatus)[keyof typeof RenditionStatus];

/** What the uploader said the file is; the probe decides what it really holds. */
export type SourceKind = 'video' | 'audio';

/** A media being processed, or about to be: the states a run works in, and a cancel applies to. */
export const processingStatuses: readonly MediaStatus[] = [MediaStatus.ScheduledProcessing, MediaStatus.Processing];

/** A new upload is accepted only in these states (a re-upload replaces a failed or unprocessed source). */
export const uploadableStatuses: readonly MediaStatus[] = [MediaStatus.AwaitingUpload, MediaStatus.Errored];
