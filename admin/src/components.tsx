import type { ComponentChildren } from 'preact';

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span class={`badge badge-${status}`} data-testid={testId}>
      {status}
    </span>
  );
}

export function ProgressBar({ value, label, testId }: { value: number; label?: string; testId?: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      data-testid={testId}
      data-value={pct}
    >
      <div class="progress-track">
        <div class="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span class="progress-label">{label ?? `${pct}%`}</span>
    </div>
  );
}

export function ErrorBanner({ message, onDismiss }: { message: string | null; onDismiss: () => void }) {
  if (!message) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid="error-banner">
      <span>{message}</span>
      <button type="button" class="dismiss" onClick={onDismiss} aria-label="Dismiss" title="Dismiss" />
    </div>
  );
}

export function Card({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card">
      <header class="card-header">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export const formatDuration = (seconds: number | null | undefined) => {
  if (seconds == null) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

export const formatBytes = (n: number | null | undefined) => {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
};

export const formatBitrate = (bps: number | null | undefined) => {
  if (bps == null) return '—';
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`;
};

export const formatDate = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
};

export const formatTime = (iso: string) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

export const formatFrameRate = (fps: number | null | undefined) =>
  fps == null ? '—' : `${Number(fps.toFixed(3))} fps`;
