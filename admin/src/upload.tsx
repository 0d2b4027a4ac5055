import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, uploadSource, type Media, type UploadHandle } from './api.ts';
import { ProgressBar, formatBytes } from './components.tsx';

const accept = 'video/*,audio/*,.mkv,.mov,.mp4,.webm,.avi,.m4a,.mp3,.flac,.wav';

interface Progress {
  loaded: number;
  total: number;
}

function UploadProgress({ progress }: { progress: Progress | null }) {
  if (!progress) return null;
  const pct = progress.total ? (progress.loaded / progress.total) * 100 : 0;
  const label = `${formatBytes(progress.loaded)} of ${formatBytes(progress.total)} · ${Math.floor(pct)}%`;
  return <ProgressBar value={pct} label={label} testId="upload-progress" />;
}

/** One upload at a time, with progress; aborted if the component goes away mid-upload. */
function useUpload() {
  const [progress, setProgress] = useState<Progress | null>(null);
  const handle = useRef<UploadHandle | null>(null);
  useEffect(() => () => handle.current?.abort(), []);
  const start = async (id: string, file: File) => {
    setProgress({ loaded: 0, total: file.size });
    handle.current = uploadSource(id, file, (loaded, total) => setProgress({ loaded, total }));
    try {
      return await handle.current.promise;
    } finally {
      handle.current = null;
    }
  };
  return { progress, start, reset: () => setProgress(null), busy: progress !== null };
}

const titleOf = (file: File) => file.name.replace(/\.[^.]+$/, '') || file.name;

/** The list page's form: create a media, upload its file, then open its page. */
export function NewMediaForm({
  onError,
  onCreated,
}: {
  onError: (message: string | null) => void;
  onCreated: (media: Media) => void;
}) {
  const [title, setTitle] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const upload = useUpload();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return onError('Choose a video or audio file to upload.');
    onError(null);
    let media: Media | undefined;
    try {
      media = await api.createMedia(title.trim() || titleOf(file));
      onCreated(await upload.start(media.id, file));
    } catch (err) {
      upload.reset();
      const what = media ? `Upload of "${media.title}" failed` : 'Could not create the media';
      onError(`${what}: ${describeError(err)}`);
    }
  };

  return (
    <form class="upload-form" onSubmit={submit}>
      <label class="field">
        <span>Title</span>
        <input
          type="text"
          value={title}
          maxLength={255}
          placeholder={file ? titleOf(file) : 'Defaults to the file name'}
          onInput={(e) => setTitle(e.currentTarget.value)}
          disabled={upload.busy}
          data-testid="upload-title"
        />
      </label>
      <label class="field">
        <span>File</span>
        <input
          type="file"
          accept={accept}
          onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          disabled={upload.busy}
          data-testid="upload-file"
        />
      </label>
      <button type="submit" class="primary" disabled={upload.busy || !file} data-testid="upload-submit">
        {upload.busy ? 'Uploading…' : 'Upload'}
      </button>
      <UploadProgress progress={upload.progress} />
    </form>
  );
}

/** On an Errored media: upload a new source (the media stays Errored until Retry). */
export function ReplaceSourceForm({
  media,
  onError,
  onDone,
}: {
  media: Media;
  onError: (m: string | null) => void;
  onDone: (m: Media) => void;
}) {
  const [file, setFile] = useState<File | null>(null);
  const upload = useUpload();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    onError(null);
    try {
      const updated = await upload.start(media.id, file);
      setFile(null);
      (e.target as HTMLFormElement).reset();
      onDone(updated);
    } catch (err) {
      onError(`Replacing the source failed: ${describeError(err)}`);
    } finally {
      upload.reset();
    }
  };

  return (
    <form class="upload-form" onSubmit={submit}>
      <label class="field">
        <span>New source file</span>
        <input
          type="file"
          accept={accept}
          onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          disabled={upload.busy}
          data-testid="replace-file"
        />
      </label>
      <button type="submit" disabled={upload.busy || !file} data-testid="replace-submit">
        {upload.busy ? 'Uploading…' : 'Replace source'}
      </button>
      <UploadProgress progress={upload.progress} />
    </form>
  );
}
