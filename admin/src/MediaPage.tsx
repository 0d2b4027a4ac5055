import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  ApiError,
  describeError,
  followEvents,
  isProcessing,
  isSettled,
  type Media,
  type MediaEvent,
  type Rendition,
  type StreamMessage,
  type StreamState,
} from './api.ts';
import {
  Card,
  ErrorBanner,
  ProgressBar,
  StatusBadge,
  formatBitrate,
  formatBytes,
  formatDate,
  formatDuration,
  formatFrameRate,
  formatTime,
} from './components.tsx';
import { navigate, usePoll } from './hooks.ts';
import { AttachmentsCard, PlayerTools } from './Attachments.tsx';
import { Player } from './Player.tsx';
import { ReplaceSourceForm } from './upload.tsx';

type Loaded = Media | 'gone' | null;

export function MediaPage({ id }: { id: string }) {
  const [media, setMedia] = useState<Media | null>(null);
  const [renditions, setRenditions] = useState<Rendition[]>([]);
  const [events, setEvents] = useState<MediaEvent[]>([]);
  const [gone, setGone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const eventsRef = useRef<MediaEvent[]>([]);
  const videoRef = useRef<HTMLVideoElement | null>(null);
  // Bumped when the attachments change: the player loads the master playlist (and its text tracks) again.
  const [playerKey, setPlayerKey] = useState(0);
  const settledPolls = useRef(0);

  /** Events only ever get appended: fetch those after the ones we have. */
  const loadEvents = async () => {
    for (;;) {
      const known = eventsRef.current;
      const res = await api.events(id, known.length);
      const lastId = known.length ? known[known.length - 1]!.id : -Infinity;
      const fresh = res.data.filter((e) => e.id > lastId);
      if (fresh.length) {
        eventsRef.current = known.concat(fresh);
        setEvents(eventsRef.current);
      }
      if (res.data.length < 500) return;
    }
  };

  const load = async (): Promise<Loaded> => {
    try {
      const [m, r] = await Promise.all([api.getMedia(id), api.renditions(id), loadEvents()]);
      setMedia(m);
      setRenditions(r);
      setLoadError(null);
      return m;
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 400)) {
        setGone(true);
        return 'gone';
      }
      setLoadError(`Could not load the media: ${describeError(err)}`);
      return null;
    }
  };

  // While the media moves, its event stream (GET /medias/{id}/events/stream) brings its state and
  // events as they happen; polling is the fallback when the stream cannot be had.
  const [live, setLive] = useState(false);
  const streamFailures = useRef(0);
  useEffect(() => {
    if (!live) return;
    const ctl = new AbortController();
    const onMessage = (m: StreamMessage) => {
      if (m.event === 'state') {
        const state = JSON.parse(m.data) as StreamState;
        setMedia(state.media);
        setRenditions(state.renditions);
      } else if (m.event === 'gone') {
        setGone(true);
      } else if (m.id !== undefined) {
        const e = JSON.parse(m.data) as MediaEvent;
        const known = eventsRef.current;
        if (!known.length || e.id > known[known.length - 1]!.id) {
          eventsRef.current = known.concat(e);
          setEvents(eventsRef.current);
        }
      }
    };
    const after = eventsRef.current.length ? eventsRef.current[eventsRef.current.length - 1]!.id : 0;
    followEvents(id, after, onMessage, ctl.signal)
      .then(
        () => {
          streamFailures.current = 0;
        },
        () => {
          streamFailures.current++;
        },
      )
      .finally(() => {
        if (ctl.signal.aborted) return;
        // The stream ended (the media settled, or the connection's lifetime): load once, which
        // either settles the page or follows the stream again.
        setLive(false);
        settledPolls.current = 0;
        reload();
      });
    return () => ctl.abort();
  }, [live, id]);

  // Load, then follow the stream while the media moves (polling every 1.5 s if the stream failed
  // three times running); once Ready/Errored, one more round picks up the last events, then stop.
  const reload = usePoll(
    load,
    1500,
    (m) => {
      if (m === 'gone') return false;
      if (m !== null && !isSettled(m.status) && streamFailures.current < 3) {
        setLive(true);
        return false;
      }
      if (m === null || !isSettled(m.status)) {
        settledPolls.current = 0;
        return true;
      }
      return ++settledPolls.current < 2;
    },
    [id],
  );

  useEffect(() => {
    document.title = media ? `${media.title} · Gilfoyle admin` : 'Gilfoyle admin';
  }, [media?.title]);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      settledPolls.current = 0;
      reload();
    } catch (err) {
      setError(`${what} failed: ${describeError(err)}`);
      reload(); // a 409 means this page was behind: catch up
    } finally {
      setBusy(false);
    }
  };

  const retry = () => act('Retry', async () => setMedia(await api.retry(id)));
  // Once a cancel is asked and the media is still processing, the run may not answer (no worker
  // runs it, or it is stuck): Force cancel terminates it.
  const [cancelAsked, setCancelAsked] = useState(false);
  // A new run (retry, upload) has not been asked anything.
  useEffect(() => {
    if (media && !isProcessing(media.status)) setCancelAsked(false);
  }, [media?.status]);
  const cancel = () =>
    act('Cancel', async () => {
      setMedia(await api.cancel(id));
      setCancelAsked(true);
    });
  const forceCancel = () => {
    if (!confirm('Terminate its run now, without waiting for it to stop? Its encodes in flight write nothing more.'))
      return;
    void act('Force cancel', async () => setMedia(await api.cancel(id, true)));
  };
  const remove = async () => {
    if (!media || !confirm(`Delete "${media.title}" and every file of it? This cannot be undone.`)) return;
    setBusy(true);
    try {
      await api.remove(id);
      navigate('/');
    } catch (err) {
      setError(`Delete failed: ${describeError(err)}`);
      setBusy(false);
    }
  };

  if (gone) {
    return (
      <>
        <a href="#/" class="back">
          ← All medias
        </a>
        <Card title="Media not found">
          <p>
            There is no media <code>{id}</code>: it may have been deleted.
          </p>
        </Card>
      </>
    );
  }

  const view = usePlaybackLinks(media);
  const tokenQuery = view?.private && view.links.master?.includes('?') ? view.links.master.split('?')[1]! : null;
  return (
    <>
      <a href="#/" class="back">
        ← All medias
      </a>
      <ErrorBanner message={error ?? loadError} onDismiss={() => (error ? setError(null) : setLoadError(null))} />
      {!media ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <div class="media-head">
            <div class="media-title">
              <h1>{media.title}</h1>
              <div class="media-sub">
                <StatusBadge status={media.status} testId="media-status" />
                <code class="muted">{media.id}</code>
              </div>
            </div>
            <div class="actions">
              {media.status === 'Errored' && (
                <button type="button" class="primary" onClick={retry} disabled={busy} data-testid="retry">
                  Retry
                </button>
              )}
              {isProcessing(media.status) && (
                <button type="button" onClick={cancel} disabled={busy} data-testid="cancel">
                  Cancel
                </button>
              )}
              {isProcessing(media.status) && (cancelAsked || cancelRequestedIn(events)) && (
                <button
                  type="button"
                  class="danger"
                  onClick={forceCancel}
                  disabled={busy}
                  data-testid="force-cancel"
                  title="The run has not stopped: terminate it"
                >
                  Force cancel
                </button>
              )}
              <button type="button" class="danger" onClick={remove} disabled={busy} data-testid="delete">
                Delete
              </button>
            </div>
          </div>

          <ProgressBar value={media.progress} testId="media-progress" />

          {media.error && (
            <div class="banner banner-failed" data-testid="media-error">
              <strong>Processing failed:</strong> {media.error}
            </div>
          )}

          {media.status === 'Errored' && (
            <Card title="Replace source">
              <p class="muted hint">
                A new file replaces the source and is processed at once; Retry processes the stored source again.
              </p>
              <ReplaceSourceForm media={media} onError={setError} onDone={(m) => (setMedia(m), reload())} />
            </Card>
          )}

          <div class="grid">
            <Card title="Playback">
              {view?.links.master ? (
                <Player
                  key={playerKey}
                  videoRef={videoRef}
                  src={view.links.master}
                  poster={view.links.poster}
                  audioOnly={media.source?.kind === 'audio' || media.probe?.video === null}
                />
              ) : (
                <div class="player-placeholder muted">
                  {media.status === 'Errored'
                    ? 'Not playable.'
                    : media.status === 'Ready'
                      ? 'No stream.'
                      : 'The player appears once the first renditions are encoded.'}
                </div>
              )}
              <Links media={view ?? media} />
              <PlayerTools media={media} videoRef={videoRef} tokenQuery={tokenQuery} />
            </Card>
            <Card title="Details">
              <Details media={view ?? media} />
            </Card>
          </div>

          <Card title="Source probe">
            <ProbeSummary media={media} />
          </Card>

          <AttachmentsCard media={media} onChanged={() => setPlayerKey((k) => k + 1)} />

          <Card title="Renditions">
            <RenditionsTable renditions={renditions} />
          </Card>

          <Card title="Events" actions={<span class="muted">{events.length}</span>}>
            <Timeline events={events} />
          </Card>
        </>
      )}
    </>
  );
}

function Links({ media }: { media: Media }) {
  const links = [
    ['HLS master', media.links.master],
    ['DASH manifest', media.links.dash],
    ['Download', media.links.download],
    ['Storyboard', media.links.storyboard],
  ] as const;
  const present = links.filter(([, href]) => href);
  if (!present.length) return null;
  return (
    <p class="links">
      {present.map(([label, href]) => (
        <a key={label} href={href!} target="_blank" rel="noopener">
          {label}
        </a>
      ))}
    </p>
  );
}

function Details({ media }: { media: Media }) {
  const { source, workflow } = media;
  return (
    <>
      <dl class="kv">
        <dt>Source</dt>
        <dd>
          {source ? (
            <>
              {source.filename ?? '(unnamed)'}
              <span class="muted">
                {' '}
                · {source.kind} · {formatBytes(source.size)}
                {source.content_type ? ` · ${source.content_type}` : ''}
              </span>
            </>
          ) : (
            <span class="muted">not uploaded yet</span>
          )}
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(media.duration)}</dd>
        <dt>Created</dt>
        <dd>{formatDate(media.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{formatDate(media.updated_at)}</dd>
        <dt>Workflow</dt>
        <dd>
          {workflow ? (
            <>
              <div>
                <code data-testid="workflow-id">{workflow.id}</code>
              </div>
              {workflow.url && (
                <a href={workflow.url} target="_blank" rel="noopener" data-testid="temporal-link">
                  Open in Temporal UI ↗
                </a>
              )}
              {workflow.trace_url && (
                <>
                  {' · '}
                  <a href={workflow.trace_url} target="_blank" rel="noopener" data-testid="jaeger-link">
                    Trace in Jaeger ↗
                  </a>
                </>
              )}
            </>
          ) : (
            <span class="muted">none yet (starts after the upload)</span>
          )}
        </dd>
        <dt>Run</dt>
        <dd>{workflow?.run_id ? <code data-testid="run-id">{workflow.run_id}</code> : <span class="muted">—</span>}</dd>
      </dl>
      {media.links.poster && (
        <figure class="poster">
          <img src={media.links.poster} alt={`Poster of ${media.title}`} loading="lazy" data-testid="poster" />
          <figcaption class="muted">Poster</figcaption>
        </figure>
      )}
    </>
  );
}

function ProbeSummary({ media }: { media: Media }) {
  const p = media.probe;
  if (!p) {
    const why = !media.source ? 'No source yet.' : media.status === 'Errored' ? 'No probe result.' : 'Not probed yet.';
    return <p class="muted">{why}</p>;
  }
  const v = p.video;
  const a = p.audio;
  return (
    <dl class="kv kv-wide" data-testid="probe">
      <dt>Container</dt>
      <dd>
        {p.format} · {formatDuration(p.duration)} · {formatBytes(p.size)} · {formatBitrate(p.bit_rate)}
      </dd>
      <dt>Video</dt>
      <dd>
        {v ? (
          <>
            {v.codec} · {v.width}×{v.height} · {formatFrameRate(v.frame_rate)}
            {v.pixel_format ? ` · ${v.pixel_format}` : ''}
            {v.rotation ? ` · rotated ${v.rotation}°` : ''}
          </>
        ) : (
          <span class="muted">none</span>
        )}
      </dd>
      <dt>Audio</dt>
      <dd>
        {a ? (
          <>
            {a.codec}
            {a.channels != null ? ` · ${a.channels} ch` : ''}
            {a.sample_rate != null ? ` · ${a.sample_rate} Hz` : ''}
          </>
        ) : (
          <span class="muted">none</span>
        )}
      </dd>
    </dl>
  );
}

function RenditionsTable({ renditions }: { renditions: Rendition[] }) {
  return (
    <div data-testid="renditions">
      {renditions.length === 0 ? (
        <p class="muted">No renditions planned yet.</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Size</th>
              <th class="num">Frame rate</th>
              <th class="num">Bandwidth</th>
              <th>Codecs</th>
              <th>State</th>
              <th class="col-progress">Progress</th>
              <th class="num">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {renditions.map((r) => (
              <tr key={r.name} data-testid="rendition" data-name={r.name} data-status={r.status}>
                <td>
                  <strong>{r.name}</strong>
                </td>
                <td>{r.type}</td>
                <td class="nowrap">{r.width && r.height ? `${r.width}×${r.height}` : '—'}</td>
                <td class="num">{r.type === 'video' ? formatFrameRate(r.frame_rate) : '—'}</td>
                <td class="num nowrap">{formatBitrate(r.bandwidth)}</td>
                <td>
                  <code class="small">{r.codecs ?? '—'}</code>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td class="col-progress">
                  <ProgressBar value={r.progress} />
                </td>
                <td class="num">{r.attempts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Timeline({ events }: { events: MediaEvent[] }) {
  const box = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  // Follow the newest event, unless the operator scrolled up to read older ones.
  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [events.length]);
  const onScroll = () => {
    const el = box.current;
    if (el) stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
  };
  return (
    <ol class="timeline" ref={box} onScroll={onScroll} data-testid="events">
      {events.length === 0 && <li class="muted empty">No events yet.</li>}
      {events.map((e) => (
        <li key={e.id} class={`event level-${e.level}`} data-testid="event" data-type={e.type} data-level={e.level}>
          <time dateTime={e.created_at} title={e.created_at}>
            {formatTime(e.created_at)}
          </time>
          <span class="event-type">{e.type}</span>
          <span class="event-message">
            {e.message}
            {Object.keys(e.data).length > 0 && (
              <details>
                <summary>data</summary>
                <pre>{JSON.stringify(e.data, null, 2)}</pre>
              </details>
            )}
          </span>
        </li>
      ))}
    </ol>
  );
}

/** A private media's stream links carry a playback token, fetched once the media is playable. */
function usePlaybackLinks(media: Media | null): Media | null {
  const [query, setQuery] = useState<string | null>(null);
  const needsToken = !!media?.private && media.playable;
  useEffect(() => {
    if (!needsToken || !media) return;
    let live = true;
    api.playbackToken(media.id).then(
      (t) => live && setQuery(t.query),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [media?.id, needsToken]);
  if (!media?.private) return media;
  const add = (link: string | null) => (link && query ? `${link}${link.includes('?') ? '&' : '?'}${query}` : null);
  const l = media.links;
  return {
    ...media,
    links: {
      ...l,
      master: add(l.master),
      dash: add(l.dash),
      download: add(l.download),
      poster: add(l.poster),
      storyboard: add(l.storyboard),
    },
  };
}

/** Whether the current run was asked to cancel: a media.cancel_requested since the last retry or upload. */
function cancelRequestedIn(events: MediaEvent[]): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const type = events[i]!.type;
    if (type === 'media.cancel_requested') return true;
    if (type === 'media.retry' || type === 'media.uploaded') return false;
  }
  return false;
}
