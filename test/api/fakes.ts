/**
 * In-memory stand-ins for what the API needs of the world (AppDeps): the media repository,
 * the storage driver and the workflow control. Enough to build the real app with createApp and
 * drive its routes with app.request(), without Postgres, RabbitMQ, Temporal or a store.
 *
 * The fakes follow the real implementations' rules (src/db/medias.ts, src/workflows/control.ts):
 * a retry only from Errored with a source, a cancel only while ScheduledProcessing/Processing,
 * an upload scheduled only from the statuses given, events dropped for a media that is gone.
 * Every call that changes something is written to a shared journal, so tests can check order.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { createApp } from '../../src/api/create-app.ts';
import type { AppDeps, DependencyState } from '../../src/api/deps.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createStreamCache } from '../../src/api/stream-cache.ts';
import type {
  MediaEventInput,
  MediaEventRow,
  MediaFilter,
  MediaRepository,
  MediaRow,
  RenditionRow,
  ScheduledUpload,
} from '../../src/db/medias.ts';
import type { AttachmentRepository } from '../../src/db/attachments.ts';
import type { WebhookRepository } from '../../src/db/webhooks.ts';
import { MediaStatus, RenditionStatus } from '../../src/domain/status.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import {
  StorageChangedError,
  StorageNotFoundError,
  StorageUnavailableError,
  type ByteRange,
  type StorageDriver,
  type StoredObject,
} from '../../src/storage/driver.ts';

/** Where the app's tus uploads would keep their parts (created by @tus/file-store, left empty by these tests). */
export const tusDir = path.join(os.tmpdir(), 'gilfoyle-api-test-tus');

/** The calls that changed something, in order, across every fake of one app ("medias.delete <id>", "workflow.stop <id>"…). */
export type Journal = string[];

/** The parts of MediaRepository the API's routes use. */
type UsedByApi =
  | 'get'
  | 'list'
  | 'create'
  | 'update'
  | 'delete'
  | 'retry'
  | 'cancel'
  | 'addEvent'
  | 'listEvents'
  | 'eventsAfter'
  | 'listRenditions'
  | 'scheduleProcessing';

const base = Date.parse('2026-01-01T00:00:00.000Z');

export class FakeMedias implements Pick<MediaRepository, UsedByApi> {
  readonly rows = new Map<string, MediaRow>();
  readonly events: MediaEventRow[] = [];
  readonly renditions: RenditionRow[] = [];
  /** What the real repository would have queued in the outbox (topic media.uploaded). */
  readonly outbox: { mediaId: string; sourceKey: string; kind: string; url?: string }[] = [];
  /** When set, every call throws it (the database is down, say). */
  failure: Error | null = null;
  private tick = 0;
  private eventId = 0;

  constructor(readonly journal: Journal = []) {}

  private now(): Date {
    // Strictly increasing, so "newest first" is well defined.
    return new Date(base + ++this.tick * 1000);
  }

  private check() {
    if (this.failure) throw this.failure;
  }

  /** A media as a test needs it, stored directly (no event, no journal line). */
  seed(partial: Partial<MediaRow> = {}): MediaRow {
    const created = this.now();
    const row: MediaRow = {
      id: randomUUID(),
      title: 'seeded media',
      status: MediaStatus.AwaitingUpload,
      source_kind: null,
      source_key: null,
      source_size: null,
      source_filename: null,
      source_content_type: null,
      clip: null,
      probe: null,
      duration: null,
      playable: false,
      progress: 0,
      error: null,
      workflow_run_id: null,
      trace_id: null,
      source_url: null,
      private: false,
      created_at: created,
      updated_at: created,
      ...partial,
    };
    this.rows.set(row.id, row);
    return { ...row };
  }

  /** A rendition row for a seeded media. */
  seedRendition(mediaId: string, partial: Partial<RenditionRow> & Pick<RenditionRow, 'name' | 'type'>): RenditionRow {
    const row: RenditionRow = {
      media_id: mediaId,
      status: RenditionStatus.Pending,
      width: null,
      height: null,
      frame_rate: null,
      video_bitrate: null,
      audio_bitrate: null,
      bandwidth: null,
      average_bandwidth: null,
      codecs: null,
      playlist: null,
      chunks_total: null,
      chunks_done: 0,
      stored_seconds: 0,
      progress: 0,
      attempts: 0,
      updated_at: this.now(),
      ...partial,
    };
    this.renditions.push(row);
    return { ...row };
  }

  eventsOf(mediaId: string): MediaEventRow[] {
    return this.events.filter((e) => e.media_id === mediaId);
  }

  private record(mediaId: string, e: MediaEventInput) {
    // INSERT … SELECT FROM medias: an event for a media that is gone is dropped.
    if (!this.rows.has(mediaId)) return;
    this.events.push({
      id: String(++this.eventId),
      media_id: mediaId,
      type: e.type,
      level: e.level ?? 'info',
      message: e.message,
      data: e.data ?? {},
      created_at: this.now(),
    });
  }

  private change(id: string, change: Partial<MediaRow>): MediaRow {
    const row = { ...this.rows.get(id)!, ...change, updated_at: this.now() };
    this.rows.set(id, row);
    return { ...row };
  }

  async create(id: string, title: string, isPrivate = false): Promise<MediaRow> {
    this.check();
    if (this.rows.has(id)) throw new Error(`duplicate key value violates unique constraint "medias_pkey"`);
    this.seed({ id, title, private: isPrivate });
    this.journal.push(`medias.create ${id}`);
    this.record(id, { type: 'media.created', message: 'media created, awaiting upload' });
    return { ...this.rows.get(id)! };
  }

  async get(id: string): Promise<MediaRow | null> {
    this.check();
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }

  async list(limit: number, offset: number, filter: MediaFilter = {}): Promise<{ items: MediaRow[]; total: number }> {
    this.check();
    const q = filter.q?.toLowerCase();
    const matching = [...this.rows.values()]
      .filter(
        (m) => (q ? m.title.toLowerCase().includes(q) : true) && (filter.status ? m.status === filter.status : true),
      )
      .sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || a.id.localeCompare(b.id));
    return { items: matching.slice(offset, offset + limit).map((m) => ({ ...m })), total: matching.length };
  }

  async update(id: string, change: { title?: string; private?: boolean }): Promise<MediaRow | null> {
    this.check();
    const row = this.rows.get(id);
    if (!row) return null;
    this.journal.push(`medias.update ${id}`);
    return this.change(id, { title: change.title ?? row.title, private: change.private ?? row.private });
  }

  async delete(id: string): Promise<boolean> {
    this.check();
    this.journal.push(`medias.delete ${id}`);
    if (!this.rows.delete(id)) return false;
    // ON DELETE CASCADE
    for (const list of [this.events, this.renditions] as { media_id: string }[][]) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.media_id === id) list.splice(i, 1);
    }
    return true;
  }

  async scheduleProcessing(
    id: string,
    upload: ScheduledUpload,
    fromStatuses: readonly MediaStatus[],
  ): Promise<(MediaRow & { previous_source_key: string | null; dropped_keys: string[] }) | null> {
    this.check();
    const row = this.rows.get(id);
    if (!row || !fromStatuses.includes(row.status)) return null;
    this.journal.push(`medias.scheduleProcessing ${id}`);
    const previous = row.source_key;
    const media = this.change(id, {
      status: MediaStatus.ScheduledProcessing,
      source_kind: upload.kind,
      source_key: upload.key,
      source_size: String(upload.size),
      source_filename: upload.filename,
      source_content_type: upload.contentType,
      source_url: upload.url ?? null,
      probe: null,
      duration: null,
      playable: false,
      progress: 0,
      error: null,
      workflow_run_id: null,
    });
    for (let i = this.renditions.length - 1; i >= 0; i--)
      if (this.renditions[i]!.media_id === id) this.renditions.splice(i, 1);
    this.record(id, {
      type: 'media.uploaded',
      message: `${upload.kind} file received (${upload.size} bytes), scheduled for processing`,
    });
    this.outbox.push({
      mediaId: id,
      sourceKey: upload.key,
      kind: upload.kind,
      ...(upload.url ? { url: upload.url } : {}),
    });
    return { ...media, previous_source_key: previous, dropped_keys: [] };
  }

  async retry(id: string, reason: string): Promise<MediaRow | null> {
    this.check();
    const row = this.rows.get(id);
    if (!row || row.status !== MediaStatus.Errored || row.source_key === null) return null;
    this.journal.push(`medias.retry ${id}`);
    const media = this.change(id, {
      status: MediaStatus.ScheduledProcessing,
      playable: false,
      progress: 0,
      error: null,
      workflow_run_id: null,
    });
    for (const r of this.renditions) {
      if (r.media_id === id) Object.assign(r, { status: RenditionStatus.Pending, progress: 0, attempts: 0 });
    }
    const refetch = media.source_url !== null && Number(media.source_size ?? 0) === 0;
    this.record(id, {
      type: 'media.retry',
      message: `retry requested: ${reason}`,
      data: { previousRunId: row.workflow_run_id, previousError: row.error, refetch },
    });
    this.outbox.push({
      mediaId: id,
      sourceKey: media.source_key!,
      kind: media.source_kind ?? 'video',
      ...(refetch ? { url: media.source_url! } : {}),
    });
    return media;
  }

  async cancel(id: string, how: string): Promise<MediaRow | null> {
    this.check();
    const row = this.rows.get(id);
    if (!row || (row.status !== MediaStatus.ScheduledProcessing && row.status !== MediaStatus.Processing)) return null;
    this.journal.push(`medias.cancel ${id}`);
    const media = this.change(id, { status: MediaStatus.Errored, playable: false, error: 'cancelled' });
    this.record(id, {
      type: 'media.cancelled',
      level: 'warn',
      message: `processing cancelled through the API ${how}; POST /medias/{id}/retry processes it again`,
    });
    return media;
  }

  async addEvent(mediaId: string, e: MediaEventInput): Promise<void> {
    this.check();
    this.record(mediaId, e);
  }

  async listEvents(mediaId: string, limit: number, offset: number): Promise<{ items: MediaEventRow[]; total: number }> {
    this.check();
    const all = this.eventsOf(mediaId);
    return { items: all.slice(offset, offset + limit).map((e) => ({ ...e })), total: all.length };
  }

  async eventsAfter(mediaId: string, afterId: number, limit: number): Promise<MediaEventRow[]> {
    this.check();
    return this.eventsOf(mediaId)
      .filter((e) => Number(e.id) > afterId)
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  async listRenditions(mediaId: string): Promise<RenditionRow[]> {
    this.check();
    return this.renditions
      .filter((r) => r.media_id === mediaId)
      .sort(
        (a, b) => b.type.localeCompare(a.type) || (b.height ?? -1) - (a.height ?? -1) || a.name.localeCompare(b.name),
      )
      .map((r) => ({ ...r }));
  }
}

type StorageOp = 'put' | 'get' | 'stat' | 'list' | 'deletePrefix' | 'check';

/** A storage driver over a map of key → bytes. `fail(op)` makes that operation throw until `heal()`. */
export class FakeStorage implements StorageDriver {
  readonly name = 'fake';
  readonly objects = new Map<string, { body: Buffer; modified: Date }>();
  private readonly failures = new Map<StorageOp, Error>();
  /** What uploadUrl answers: null (like the fs driver) unless set. */
  uploadUrlBase: string | null = null;

  constructor(readonly journal: Journal = []) {}

  fail(op: StorageOp, err: Error = new StorageUnavailableError('connect ECONNREFUSED 127.0.0.1:9000')) {
    this.failures.set(op, err);
  }

  heal(op?: StorageOp) {
    if (op) this.failures.delete(op);
    else this.failures.clear();
  }

  private check_(op: StorageOp) {
    const err = this.failures.get(op);
    if (err) throw err;
  }

  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Stores an object directly (no journal line). */
  seed(key: string, body: Buffer | string = 'x') {
    this.objects.set(key, { body: Buffer.from(body), modified: new Date() });
  }

  async put(key: string, body: Readable | Buffer | string): Promise<number> {
    this.check_('put');
    let bytes: Buffer;
    if (typeof body === 'string' || Buffer.isBuffer(body)) bytes = Buffer.from(body);
    else {
      // Reading a destroyed stream rejects with its error (busboy's size limit, say): nothing is stored.
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
      bytes = Buffer.concat(chunks);
    }
    this.journal.push(`storage.put ${key}`);
    this.objects.set(key, { body: bytes, modified: new Date() });
    return bytes.length;
  }

  async putFile(key: string, localPath: string): Promise<void> {
    await this.put(key, await readFile(localPath));
  }

  /** Runs before each get: a write that lands between a stat and its read. */
  beforeGet?: (key: string) => void;

  async get(key: string, range?: ByteRange, expected?: StoredObject): Promise<Readable> {
    this.check_('get');
    this.beforeGet?.(key);
    const o = this.objects.get(key);
    if (!o) throw new StorageNotFoundError(key);
    if (expected && (expected.size !== o.body.length || expected.modified.getTime() !== o.modified.getTime()))
      throw new StorageChangedError(key);
    return Readable.from([range ? o.body.subarray(range.start, range.end + 1) : o.body]);
  }

  async getToFile(key: string, localPath: string): Promise<void> {
    this.check_('get');
    const o = this.objects.get(key);
    if (!o) throw new StorageNotFoundError(key);
    await writeFile(localPath, o.body);
  }

  async readUrl(): Promise<string | null> {
    return null;
  }

  async localFile(): Promise<string | null> {
    return null;
  }

  async stat(key: string): Promise<StoredObject | null> {
    this.check_('stat');
    const o = this.objects.get(key);
    return o ? { size: o.body.length, modified: o.modified } : null;
  }

  async list(prefix: string): Promise<string[]> {
    this.check_('list');
    return this.keys(prefix);
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.journal.push(`storage.deletePrefix ${prefix}`);
    this.check_('deletePrefix');
    const keys = this.keys(prefix);
    for (const k of keys) this.objects.delete(k);
    return keys.length;
  }

  async check(): Promise<void> {
    this.check_('check');
  }

  async directUrl(): Promise<string | null> {
    return null;
  }

  async uploadUrl(key: string, size: number): Promise<string | null> {
    return this.uploadUrlBase ? `${this.uploadUrlBase}/${key}?size=${size}` : null;
  }
}

type WorkflowCall = { fn: 'stopWorkflow' | 'workflowRunning' | 'cancelWorkflow'; mediaId: string; reason?: string };

/**
 * The workflow control (src/workflows/control.ts) of a Temporal that is not there: `running`
 * holds the medias with an open run; `down` makes every call throw, as an unreachable Temporal does.
 */
export class FakeWorkflows {
  readonly running = new Set<string>();
  readonly calls: WorkflowCall[] = [];
  down: Error | null = null;

  constructor(readonly journal: Journal = []) {}

  private enter(call: WorkflowCall) {
    this.calls.push(call);
    if (this.down) throw this.down;
  }

  callsOf(fn: WorkflowCall['fn']): WorkflowCall[] {
    return this.calls.filter((c) => c.fn === fn);
  }

  // Arrow functions: the handlers take them out of the deps object.
  readonly stopWorkflow = async (mediaId: string, reason: string): Promise<void> => {
    this.enter({ fn: 'stopWorkflow', mediaId, reason });
    this.journal.push(`workflow.stop ${mediaId}`);
    this.running.delete(mediaId); // terminated, or there was none
  };

  readonly workflowRunning = async (mediaId: string): Promise<boolean> => {
    this.enter({ fn: 'workflowRunning', mediaId });
    return this.running.has(mediaId);
  };

  /** Asks the open run to cancel: it stays open (the run closes once its activities stop); false when none is open. */
  readonly cancelWorkflow = async (mediaId: string): Promise<boolean> => {
    this.enter({ fn: 'cancelWorkflow', mediaId });
    if (!this.running.has(mediaId)) return false;
    this.journal.push(`workflow.cancel ${mediaId}`);
    return true;
  };
}

/** The error a Temporal client gives when the server cannot be reached. */
export const temporalDown = () =>
  new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7233');

let sharedMetrics: Metrics | null = null;

export interface BuildOptions {
  /** Raw configuration (as in gilfoyle.yml), merged over a tus dir under the OS temp folder. */
  config?: Record<string, unknown>;
  medias?: FakeMedias;
  storage?: FakeStorage;
  workflows?: FakeWorkflows;
  /** The webhook repository (a real one on a test database); without it, webhook routes find none. */
  webhooks?: WebhookRepository;
  checkDependencies?: () => Promise<Record<string, DependencyState>>;
}

/** No webhook endpoints, and none can be made: the tests of the webhook routes give a real repository. */
const noWebhooks = new Proxy({} as WebhookRepository, {
  get: (_t, name) => () => Promise.reject(new Error(`no webhook repository in this test (${String(name)})`)),
});

/** A media with no attachments, and none can be added: the attachment tests run against Postgres. */
const noAttachments: AttachmentRepository = {
  list: async () => [],
  get: async () => null,
  add: () => Promise.reject(new Error('no attachment repository in this test')),
  remove: () => Promise.reject(new Error('no attachment repository in this test')),
};

/** The real app (createApp) around fakes; the fakes are returned to arrange and inspect the world. */
export function buildApp(overrides: BuildOptions = {}) {
  const journal: Journal = [];
  const medias = overrides.medias ?? new FakeMedias(journal);
  const storage = overrides.storage ?? new FakeStorage(journal);
  const workflows = overrides.workflows ?? new FakeWorkflows(journal);
  const raw = overrides.config ?? {};
  const config = parseConfig({ ...raw, tus: { dir: tusDir, ...(raw.tus as Record<string, unknown> | undefined) } });
  // One registry for every app of the run: prom-client's default metrics need not be set up again per test.
  sharedMetrics ??= createMetrics();
  const deps: AppDeps = {
    config,
    version: '0.0.0-test',
    medias: medias as unknown as MediaRepository,
    attachments: noAttachments,
    webhooks: overrides.webhooks ?? noWebhooks,
    startDelivery: async (deliveryId, run) => {
      journal.push(`webhooks.startDelivery ${deliveryId} ${run}`);
    },
    storage,
    // No database to listen on: nothing is kept, every stream request asks the fake.
    streamCache: createStreamCache({ load: (id) => (medias as unknown as MediaRepository).get(id) }),
    logger: pino({ level: 'silent' }),
    metrics: sharedMetrics,
    stopWorkflow: workflows.stopWorkflow,
    workflowRunning: workflows.workflowRunning,
    cancelWorkflow: workflows.cancelWorkflow,
    checkDependencies:
      overrides.checkDependencies ?? (async () => ({ database: 'up', rabbitmq: 'up', temporal: 'up', storage: 'up' })),
  };
  const app = createApp(deps);
  return { app, medias, storage, workflows, journal: medias.journal, config };
}
