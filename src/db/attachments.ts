import type { AttachmentKind } from '../domain/attachments.ts';
import { addEvent } from './medias.ts';
import { inTransaction, type Db } from './pool.ts';

export interface AttachmentRow {
  media_id: string;
  key: string;
  kind: AttachmentKind;
  language: string | null;
  label: string | null;
  is_default: boolean;
  content_type: string;
  size: string;
  filename: string | null;
  storage_key: string;
  origin: 'upload' | 'source';
  created_at: Date;
}

export type NewAttachment = Omit<AttachmentRow, 'media_id' | 'created_at' | 'size' | 'origin'> & {
  size: number;
  origin?: AttachmentRow['origin'];
};

/** The event data of an attachment: what a webhook receiver needs to know of it. */
const eventData = (a: Pick<AttachmentRow, 'key' | 'kind' | 'language' | 'label'>) => ({
  attachment: a.key,
  kind: a.kind,
  language: a.language,
  label: a.label,
});

/** Postgres access for a media's attachments; each change is written with its media event. */
export function createAttachmentRepository(db: Db) {
  return {
    async list(mediaId: string): Promise<AttachmentRow[]> {
      const { rows } = await db.query<AttachmentRow>(
        'SELECT * FROM attachments WHERE media_id = $1 ORDER BY created_at, key',
        [mediaId],
      );
      return rows;
    },

    async get(mediaId: string, key: string): Promise<AttachmentRow | null> {
      const { rows } = await db.query<AttachmentRow>('SELECT * FROM attachments WHERE media_id = $1 AND key = $2', [
        mediaId,
        key,
      ]);
      return rows[0] ?? null;
    },

    /**
     * Adds an attachment with its `attachment.created` event; a default one makes the others of
     * its kind not default. 'exists' when the media has one of that key, 'gone' when the media is.
     */
    async add(mediaId: string, a: NewAttachment): Promise<AttachmentRow | 'exists' | 'gone'> {
      return inTransaction(db, async (c) => {
        const { rows: media } = await c.query('SELECT 1 FROM medias WHERE id = $1 FOR SHARE', [mediaId]);
        if (!media.length) return 'gone';
        const { rows } = await c.query<AttachmentRow>(
          `INSERT INTO attachments (media_id, key, kind, language, label, is_default, content_type, size, filename, storage_key, origin)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (media_id, key) DO NOTHING RETURNING *`,
          [
            mediaId,
            a.key,
            a.kind,
            a.language,
            a.label,
            a.is_default,
            a.content_type,
            a.size,
            a.filename,
            a.storage_key,
            a.origin ?? 'upload',
          ],
        );
        const row = rows[0];
        if (!row) return 'exists';
        if (row.is_default)
          await c.query(
            'UPDATE attachments SET is_default = false WHERE media_id = $1 AND kind = $2 AND key <> $3 AND is_default',
            [mediaId, row.kind, row.key],
          );
        await addEvent(c, mediaId, {
          type: 'attachment.created',
          message: `${row.kind} attachment ${row.key} added${row.language ? ` (${row.language})` : ''}`,
          data: { ...eventData(row), content_type: row.content_type, size: Number(row.size), origin: row.origin },
        });
        return row;
      });
    },

    /** Removes an attachment with its `attachment.deleted` event; the row it was, or null when there was none. */
    async remove(mediaId: string, key: string): Promise<AttachmentRow | null> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<AttachmentRow>(
          'DELETE FROM attachments WHERE media_id = $1 AND key = $2 RETURNING *',
          [mediaId, key],
        );
        const row = rows[0];
        if (!row) return null;
        await addEvent(c, mediaId, {
          type: 'attachment.deleted',
          message: `${row.kind} attachment ${row.key} deleted`,
          data: eventData(row),
        });
        return row;
      });
    },
  };
}

export type AttachmentRepository = ReturnType<typeof createAttachmentRepository>;
