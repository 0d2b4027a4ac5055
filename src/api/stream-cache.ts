import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import type { MediaRow } from '../db/medias.ts';
import type { Db } from '../db/pool.ts';
import type { Logger } from '../logger.ts';

/** The Postgres channel on which a change to a media, its renditions or attachments is told (migration 10). */
export const mediaChannel = 'gilfoyle_media';

/** What the stream routes keep of one media between requests. */
interface Entry {
  media: MediaRow | null;
  /** Facts derived from the media's other rows (its text tracks…), each loaded on first use. */
  derived: Map<string, Promise<unknown>>;
}

export interface StreamCache {
  /** The media (null when there is none), from the cache while no change was notified. */
  media(id: string): Promise<MediaRow | null>;
  /** Something derived from the media's rows, loaded once and forgotten with the media. */
  derived<T>(id: string, what: string, load: () => Promise<T>): Promise<T>;
  /** Forgets one media (a notification) or everything (a lost connection). */
  forget(id?: string): void;
  /** Whether notifications are being received (the cache keeps nothing otherwise). */
  readonly live: boolean;
  stop(): Promise<void>;
}

export interface StreamCacheOptions {
  load: (id: string) => Promise<MediaRow | null>;
  /** The database to LISTEN on; without it nothing is kept (every call loads). */
  db?: Db;
  logger?: Logger;
  /** How many medias are kept (least recently used go first). */
  max?: number;
  /** A safety net: an entry is loaded again after this long even if no change was notified. */
  ttlMs?: number;
}

/**
 * A bounded in-process cache of what a stream request needs to know of its media: its row
 * (status, privacy…) and what its other rows give (text tracks). Postgres triggers notify
 * `gilfoyle_media` with the media id on every change that matters, by whichever process, when
 * its transaction commits; the entry is then dropped, so a deleted, made private or re-processed
 * media stops being served as it was within the notification's delay (milliseconds). While the
 * listening connection is down, nothing is kept and every request reads the database.
 */
export function createStreamCache(o: StreamCacheOptions): StreamCache {
  const entries = new LRUCache<string, Entry>({ max: o.max ?? 10_000, ttl: o.ttlMs ?? 60_000 });
  // A load that began before a notification of its media (or a loss of the connection) must not
  // store what it read: such notifications mark the loads in flight for that media as stale.
  // Another media's notification leaves them be.
  const inFlight = new Map<string, Set<{ stale: boolean }>>();
  let listener: pg.PoolClient | null = null;
  let endWait: (() => void) | null = null;
  let live = false;
  let stopped = false;

  const forget = (id?: string) => {
    if (id) {
      entries.delete(id);
      for (const load of inFlight.get(id) ?? []) load.stale = true;
    } else {
      entries.clear();
      for (const loads of inFlight.values()) for (const load of loads) load.stale = true;
    }
  };

  async function listen(db: Db) {
    let pause = 250;
    while (!stopped) {
      let client: pg.PoolClient | null = null;
      try {
        client = await db.connect();
        const lost = new Promise<void>((resolve) => {
          endWait = resolve;
          client!.on('error', () => resolve());
          client!.on('end', () => resolve());
        });
        client.on('notification', (n) => forget(n.payload || undefined));
        await client.query(`LISTEN ${mediaChannel}`);
        listener = client;
        // Whatever changed while nobody listened is not in the cache: it was cleared when the
        // connection went, and nothing was kept since.
        forget();
        live = true;
        pause = 250;
        if (!stopped) await lost;
      } catch (err) {
        o.logger?.warn({ err: (err as Error).message }, 'stream cache: cannot listen for media changes');
      }
      live = false;
      forget();
      listener = null;
      client?.release(true);
      if (stopped) break;
      await sleep(pause);
      pause = Math.min(pause * 2, 5000);
    }
  }
  const listening = o.db ? listen(o.db) : Promise.resolve();

  async function entryOf(id: string): Promise<Entry> {
    const kept = live ? entries.get(id) : undefined;
    if (kept) return kept;
    const load = { stale: false };
    let loads = inFlight.get(id);
    if (!loads) inFlight.set(id, (loads = new Set()));
    loads.add(load);
    try {
      const entry: Entry = { media: await o.load(id), derived: new Map() };
      if (live && !load.stale) entries.set(id, entry);
      return entry;
    } finally {
      loads.delete(load);
      if (!loads.size && inFlight.get(id) === loads) inFlight.delete(id);
    }
  }

  return {
    async media(id) {
      return (await entryOf(id)).media;
    },
    async derived<T>(id: string, what: string, load: () => Promise<T>): Promise<T> {
      const entry = await entryOf(id);
      let p = entry.derived.get(what) as Promise<T> | undefined;
      if (!p) {
        p = load();
        entry.derived.set(what, p);
        // A failed load is not kept.
        p.catch(() => entry.derived.delete(what));
      }
      return p;
    },
    forget,
    get live() {
      return live;
    },
    async stop() {
      stopped = true;
      if (listener) {
        const l = listener;
        listener = null;
        await l.query(`UNLISTEN ${mediaChannel}`).catch(() => undefined);
      }
      endWait?.();
      await listening;
    },
  };
}
