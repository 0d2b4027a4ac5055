import type Hls from 'hls.js';
import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * HLS player for a media's master playlist. The hls.js instance lives as long as `src` does:
 * polls that re-render the page with the same URL never recreate it.
 * (Full hls.js build: the light one has no alternate audio, and Gilfoyle's audio is an HLS audio group.)
 */
export function Player({ src, poster, audioOnly }: { src: string; poster?: string | null; audioOnly?: boolean }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);

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
    return () => {
      cancelled = true;
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
      {error && <p class="player-error muted">{error}</p>}
    </div>
  );
}
