/** What ffprobe found in a source, in Gilfoyle's own terms (no other module reads raw ffprobe JSON). */
export interface VideoStreamInfo {
  codec: string;
  /** Coded size, before rotation. */
  width: number;
  height: number;
  /** Size as displayed, after applying rotation. */
  displayWidth: number;
  displayHeight: number;
  /** Degrees, normalised to 0, 90, 180 or 270. */
  rotation: number;
  /** Average frames per second; 0 when unknown. */
  frameRate: number;
  pixelFormat: string | null;
  bitrate: number | null;
}

export interface AudioStreamInfo {
  codec: string;
  /** The codec's profile as ffprobe names it ("LC", "HE-AAC"…), when it says. */
  profile: string | null;
  channels: number;
  sampleRate: number;
  bitrate: number | null;
}

export interface Probe {
  formatName: string;
  /** Seconds. */
  duration: number;
  size: number;
  bitrate: number | null;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
}
