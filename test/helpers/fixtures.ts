import type { Probe, VideoStreamInfo } from '../../src/domain/probe.ts';
import type { EncodingLadder } from '../../src/domain/renditions.ts';
import type { VariantEntry } from '../../src/media/hls.ts';

/** The default ladder of the config, in the workflow's terms. */
export const defaultLadder: EncodingLadder = {
  rungs: [
    { name: '1080p', height: 1080, videoBitrate: 5000, maxRate: 5350, codec: 'h264' },
    { name: '720p', height: 720, videoBitrate: 2800, maxRate: 2996, codec: 'h264' },
    { name: '480p', height: 480, videoBitrate: 1400, maxRate: 1498, codec: 'h264' },
    { name: '360p', height: 360, videoBitrate: 800, maxRate: 856, codec: 'h264' },
  ],
  audioBitrate: 128,
  maxFrameRate: 60,
  gopSeconds: 2,
  segmentSeconds: 4,
};

/** A probe of a 10 s H.264 source of the given displayed size, with stereo AAC unless told otherwise. */
export const videoProbe = (
  width: number,
  height: number,
  video: Partial<VideoStreamInfo> = {},
  audio = true,
): Probe => ({
  formatName: 'mov,mp4',
  duration: 10,
  size: 1000,
  bitrate: null,
  video: {
    codec: 'h264',
    width,
    height,
    displayWidth: width,
    displayHeight: height,
    rotation: 0,
    frameRate: 30,
    pixelFormat: 'yuv420p',
    bitrate: null,
    ...video,
  },
  audio: audio ? { codec: 'aac', profile: 'LC', channels: 2, sampleRate: 48000, bitrate: null } : null,
});

/** What a fake encode activity answers for a rendition: one 4 s segment, made-up measures. */
export const fakeVariant = (name: string): VariantEntry => ({
  type: name === 'audio' ? 'audio' : 'video',
  name,
  playlist: `${name}.m3u8`,
  init: `${name}_init.mp4`,
  segments: [{ uri: `${name}_00000.m4s`, duration: 4 }],
  bandwidth: 1,
  averageBandwidth: 1,
  codecs: 'x',
});
