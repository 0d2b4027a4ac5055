import { useEffect, useState } from 'preact/hooks';
import { addAttachment, api, describeError, type Attachment, type Media } from './api.ts';
import { Card, formatBytes } from './components.tsx';
import { navigate } from './hooks.ts';

const kinds = ['subtitles', 'captions', 'chapters', 'file'] as const;

/** A media's attachments: the list (each with its link and Delete), and a form to add one. */
export function AttachmentsCard({ media, onChanged }: { media: Media; onChanged: () => void }) {
  const [list, setList] = useState<Attachment[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    api.attachments(media.id).then(
      (a) => setList(a),
      (err) => setError(`Could not list the attachments: ${describeError(err)}`),
    );
  useEffect(() => {
    void load();
  }, [media.id, media.status]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const file = data.get('file');
    if (!(file instanceof File) || !file.size) return setError('Choose a file to attach.');
    setBusy(true);
    setError(null);
    try {
      await addAttachment(media.id, file, {
        kind: String(data.get('kind')),
        key: String(data.get('key') ?? '').trim(),
        language: String(data.get('language') ?? '').trim(),
        label: String(data.get('label') ?? '').trim(),
        default: data.get('default') ? 'true' : '',
      });
      form.reset();
      await load();
      onChanged();
    } catch (err) {
      setError(`Attach failed: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (a: Attachment) => {
    if (!confirm(`Delete the attachment ${a.key}?`)) return;
    setBusy(true);
    try {
      await api.removeAttachment(media.id, a.key);
      await load();
      onChanged();
    } catch (err) {
      setError(`Delete failed: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Attachments" actions={<span class="muted">{list.length}</span>}>
      {error && (
        <p class="form-error" data-testid="attachment-error">
          {error}
        </p>
      )}
      {list.length > 0 ? (
        <table class="table" data-testid="attachments">
          <thead>
            <tr>
              <th>Key</th>
              <th>Kind</th>
              <th>Language</th>
              <th>Label</th>
              <th>Size</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.key} data-testid={`attachment-${a.key}`}>
                <td>
                  <a href={a.url} target="_blank" rel="noopener">
                    <code>{a.key}</code>
                  </a>
                  {a.default && <span class="muted"> (default)</span>}
                  {a.origin === 'source' && <span class="muted"> (from the source)</span>}
                </td>
                <td>{a.kind}</td>
                <td>{a.language ?? '—'}</td>
                <td>{a.label ?? '—'}</td>
                <td>{formatBytes(a.size)}</td>
                <td>
                  <button type="button" class="danger small" disabled={busy} onClick={() => remove(a)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No attachments.</p>
      )}
      <form class="attach-form" onSubmit={submit} data-testid="attach-form">
        <input type="file" name="file" data-testid="attach-file" />
        <select name="kind" data-testid="attach-kind">
          {kinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input name="key" placeholder="key (optional)" size={10} />
        <input name="language" placeholder="language (en)" size={8} data-testid="attach-language" />
        <input name="label" placeholder="label" size={12} data-testid="attach-label" />
        <label>
          <input type="checkbox" name="default" /> default
        </label>
        <button type="submit" disabled={busy} data-testid="attach-submit">
          Attach
        </button>
      </form>
      <p class="muted hint">Subtitles and captions (WebVTT, SRT, ASS) join the HLS and DASH streams at once.</p>
    </Card>
  );
}

/** From the player's position: a thumbnail at that time, and a clip starting there. */
export function PlayerTools({
  media,
  videoRef,
  tokenQuery,
}: {
  media: Media;
  videoRef: { current: HTMLVideoElement | null };
  tokenQuery: string | null;
}) {
  const [thumb, setThumb] = useState<string | null>(null);
  const [length, setLength] = useState(10);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (media.status !== 'Ready') return null;
  const now = () => Math.min(videoRef.current?.currentTime ?? 0, Math.max(0, (media.duration ?? 0) - 0.05));
  const thumbnail = () => {
    const t = now().toFixed(3);
    setThumb(`/medias/${media.id}/thumbnail.jpg?time=${t}&width=640${tokenQuery ? `&${tokenQuery}` : ''}`);
  };
  const clip = async () => {
    const start = Number(now().toFixed(3));
    const end = Math.min(media.duration ?? 0, start + length);
    setBusy(true);
    setError(null);
    try {
      const made = await api.createClip(`${media.title} (clip at ${start.toFixed(1)} s)`, {
        media_id: media.id,
        start,
        end: Number(end.toFixed(3)),
      });
      navigate(`/medias/${made.id}`);
    } catch (err) {
      setError(`Clip failed: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="player-tools">
      <button type="button" onClick={thumbnail} data-testid="thumbnail-here">
        Thumbnail here
      </button>
      <label>
        <button type="button" onClick={clip} disabled={busy} data-testid="clip-here">
          Clip from here
        </button>{' '}
        <input
          type="number"
          min={1}
          step={1}
          value={length}
          size={4}
          data-testid="clip-length"
          onInput={(e) => setLength(Math.max(1, Number((e.target as HTMLInputElement).value) || 10))}
        />{' '}
        s
      </label>
      {error && <p class="form-error">{error}</p>}
      {thumb && (
        <a href={thumb} target="_blank" rel="noopener" class="thumb-preview">
          <img src={thumb} alt="thumbnail at the player's position" data-testid="thumbnail-image" />
        </a>
      )}
    </div>
  );
}
