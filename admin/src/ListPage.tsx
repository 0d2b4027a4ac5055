import { useEffect, useState } from 'preact/hooks';
import { api, describeError, isProcessing, mediaStatuses, type ListMetadata, type Media } from './api.ts';
import { Card, ErrorBanner, ProgressBar, StatusBadge, formatDate, formatDuration } from './components.tsx';
import { navigate, useDebounced, usePoll } from './hooks.ts';
import { NewMediaForm } from './upload.tsx';

const pageSize = 20;

export function ListPage({ params }: { params: URLSearchParams }) {
  // The filters live in the hash (#/?q=…&status=…&page=…), so Back from a media page restores them.
  const q = params.get('q') ?? '';
  const status = params.get('status') ?? '';
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const setFilters = (next: { q?: string; status?: string; page?: number }, replace = false) => {
    const merged = { q, status, page: page as number | undefined, ...next };
    navigate('/', { ...merged, page: merged.page && merged.page > 1 ? merged.page : undefined }, replace);
  };

  const [search, setSearch] = useState(q);
  const debouncedSearch = useDebounced(search.trim(), 300);
  useEffect(() => {
    if (debouncedSearch !== q) setFilters({ q: debouncedSearch, page: undefined }, true);
  }, [debouncedSearch]);
  useEffect(() => {
    if (q !== search.trim()) setSearch(q); // the hash changed under us (Back, a link)
  }, [q]);

  const [medias, setMedias] = useState<Media[] | null>(null);
  const [meta, setMeta] = useState<ListMetadata | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [listError, setListError] = useState<string | null>(null);

  usePoll(
    async () => {
      try {
        const res = await api.listMedias({
          limit: pageSize,
          offset: (page - 1) * pageSize,
          q: q || undefined,
          status: status || undefined,
        });
        setMedias(res.data);
        setMeta(res.metadata ?? null);
        setListError(null);
        return res.data;
      } catch (err) {
        setListError(`Could not load the medias: ${describeError(err)}`);
        return null;
      }
    },
    2000,
    (list) => list === null || list.some((m) => isProcessing(m.status)),
    [q, status, page],
  );

  const total = meta?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  useEffect(() => {
    if (meta && total > 0 && page > pages) setFilters({ page: pages > 1 ? pages : undefined }, true);
  }, [meta, page, pages]);

  return (
    <>
      <ErrorBanner message={error ?? listError} onDismiss={() => (error ? setError(null) : setListError(null))} />
      <Card title="Upload a media">
        <NewMediaForm onError={setError} onCreated={(m) => navigate(`/medias/${m.id}`)} />
      </Card>
      <Card
        title="Medias"
        actions={<span class="muted">{meta ? `${total} ${total === 1 ? 'media' : 'medias'}` : ''}</span>}
      >
        <div class="toolbar">
          <input
            type="search"
            class="search"
            placeholder="Search by title…"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
            data-testid="search"
            aria-label="Search by title"
          />
          <select
            value={status}
            onChange={(e) => setFilters({ status: e.currentTarget.value, page: undefined })}
            data-testid="status-filter"
            aria-label="Filter by status"
          >
            <option value="">All statuses</option>
            {mediaStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <table class="table">
          <thead>
            <tr>
              <th>Title</th>
              <th>Status</th>
              <th class="col-progress">Progress</th>
              <th class="num">Duration</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {medias?.map((m) => (
              <tr key={m.id} data-testid="media-row" data-status={m.status} data-id={m.id}>
                <td class="title-cell">
                  <a href={`#/medias/${m.id}`}>{m.title}</a>
                </td>
                <td>
                  <StatusBadge status={m.status} />
                </td>
                <td class="col-progress">
                  {isProcessing(m.status) ? <ProgressBar value={m.progress} /> : <span class="muted">—</span>}
                </td>
                <td class="num">{formatDuration(m.duration)}</td>
                <td class="nowrap">{formatDate(m.created_at)}</td>
              </tr>
            ))}
            {medias && medias.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">
                  {q || status ? 'No media matches these filters.' : 'No medias yet: upload one above.'}
                </td>
              </tr>
            )}
            {!medias && (
              <tr>
                <td colSpan={5} class="empty">
                  Loading…
                </td>
              </tr>
            )}
          </tbody>
        </table>
        <nav class="pager">
          <button
            type="button"
            disabled={page <= 1}
            onClick={() => setFilters({ page: page - 1 })}
            data-testid="prev-page"
          >
            ← Previous
          </button>
          <span class="muted" data-testid="page-info">
            Page {Math.min(page, pages)} of {pages}
          </span>
          <button
            type="button"
            disabled={page >= pages}
            onClick={() => setFilters({ page: page + 1 })}
            data-testid="next-page"
          >
            Next →
          </button>
        </nav>
      </Card>
    </>
  );
}
