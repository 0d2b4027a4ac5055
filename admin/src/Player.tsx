import type Hls from 'hls.js';
import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * HLS player for a media's master playlist. The hls.js instance lives as long as `src` does:
 * polls that re-render the page with the same URL never recreate it.
 * (Full hls.js build: the light one has no alternate audio, and Gilfoyle's audio is an HLS audio group.)
 */
export function Player({
  src,
  poster,
  audioOnly,
  videoRef,
}: {
  src: string;
  poster?: string | null;
  audioOnly?: boolean;
  /** The video element, for the tools that work from the player's position. */
  videoRef?: { current: HTMLVideoElement | null };
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  // The master playlist's subtitle tracks (hls.js), and the one shown (-1: none).
  const [tracks, setTracks] = useState<string[]>([]);
  const [track, setTrack] = useState(-1);
  const hlsRef = useRef<Hls | null>(null);

  useEffect(() => {
    const el = video.current;
    if (!el) return;
    setError(null);
    let cancelled = false;
    let hls: Hls | undefined;
    // hls.js is most of the bundle: its own chunk, fetched only once something is playable.
    void import('hls.js').then(
      ({ default: HlsJs }) => {
        if (cancelled) return;
        if (!HlsJs.isSupported()) {
          if (el.canPlayType('application/vnd.apple.mpegurl'))
            el.src = src; // Safari plays HLS natively
          else setError('this browser cannot play HLS');
          return;
        }
        const player = (hls = new HlsJs({ enableWorker: false }));
        hlsRef.current = player;
        player.on(HlsJs.Events.SUBTITLE_TRACKS_UPDATED, (_event, data) =>
          setTracks(data.subtitleTracks.map((t) => t.name || t.lang || `track ${t.id}`)),
        );
        player.on(HlsJs.Events.SUBTITLE_TRACK_SWITCH, (_event, data) => setTrack(data.id));
        player.on(HlsJs.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          if (data.type === HlsJs.ErrorTypes.NETWORK_ERROR) {
            setError(`network error (${data.details}), retrying…`);
            player.startLoad();
          } else if (data.type === HlsJs.ErrorTypes.MEDIA_ERROR) {
            setError(`media error (${data.details}), recovering…`);
            player.recoverMediaError();
          } else {
            setError(`playback failed: ${data.details}`);
          }
        });
        player.on(HlsJs.Events.FRAG_BUFFERED, () => setError(null));
        player.loadSource(src);
        player.attachMedia(el);
      },
      (err: Error) => !cancelled && setError(`could not load the player: ${err.message}`),
    );
    if (videoRef) videoRef.current = el;
    return () => {
      cancelled = true;
      hlsRef.current = null;
      setTracks([]);
      setTrack(-1);
      hls?.destroy();
      if (el.getAttribute('src')) {
        el.removeAttribute('src');
        el.load();
      }
    };
  }, [src]);

  return (
    <div class={audioOnly ? 'player player-audio' : 'player'}>
      <video ref={video} controls muted playsInline poster={poster ?? undefined} data-testid="player" data-src={src} />
      {tracks.length > 0 && (
        <label class="player-subtitles">
          Subtitles{' '}
          <select
            data-testid="subtitle-track"
            value={String(track)}
            onChange={(e) => {
              const i = Number((e.target as HTMLSelectElement).value);
              if (hlsRef.current) hlsRef.current.subtitleTrack = i;
              setTrack(i);
            }}
          >
            <option value="-1">Off</option>
            {tracks.map((name, i) => (
              <option key={name} value={String(i)}>
                {name}
              </option>
            ))}
          </select>
        </label>
      )}
      {error && <p class="player-error muted">{error}</p>}
    </div>
  );
}
