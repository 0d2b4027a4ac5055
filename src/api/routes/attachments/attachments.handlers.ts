import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { attachmentStorageKey, attachmentUploadKey, isTimedText } from '../../../domain/attachments.ts';
import { HttpError } from '../../../domain/errors.ts';
import type { AppEnv } from '../../deps.ts';
import { multipartOverhead, receiveFile } from '../../multipart.ts';
import { contentDisposition } from '../../send-stored.ts';
import { mediaIdOf, withoutControlChars } from '../../params.ts';
import { describeIssues } from '../../router.ts';
import type * as routes from './attachments.routes.ts';
import { attachmentKey, attachmentKind, attachmentLabel, languageTag } from './attachments.routes.ts';
import { convertTimedText, madeUpKey, toAttachmentJson } from './attachments.service.ts';

const formFields = ['key', 'kind', 'language', 'label', 'default'] as const;
const fieldsSchema = z.strictObject({
  key: attachmentKey.optional(),
  kind: attachmentKind,
  language: languageTag.optional(),
  label: attachmentLabel.optional(),
  default: z.enum(['true', 'false']).optional(),
});

const tooLarge = (max: number) =>
  new HttpError(413, `the file is larger than the maximum of ${max} bytes (attachments.max_size)`);

async function existingMedia(c: Context<AppEnv>, id: string) {
  const media = await c.var.deps.medias.get(id);
  if (!media) throw new HttpError(404, `media ${id} not found`);
  return media;
}

export const listAttachments: RouteHandler<typeof routes.listAttachments, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  await existingMedia(c, id);
  const rows = await c.var.deps.attachments.list(id);
  return c.json({ code: 200, data: rows.map(toAttachmentJson) }, 200);
};

/**
 * POST /medias/{id}/attachments: the file streamed into storage at a key of its upload's own,
 * its fields checked, timed text converted to WebVTT, then recorded. A refused upload keeps nothing.
 */
export async function createAttachment(c: Context<AppEnv>) {
  const id = mediaIdOf(c.req.param('id'));
  const { storage, attachments, config } = c.var.deps;
  const maxSize = config.attachments.max_size;
  if (!/^multipart\/form-data\b/i.test(c.req.header('content-type') ?? '')) {
    throw new HttpError(415, 'expected multipart/form-data with the file in a field named "file"');
  }
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxSize + multipartOverhead) throw tooLarge(maxSize);
  await existingMedia(c, id);
  const uploadId = randomUUID();
  const incoming = attachmentUploadKey(id, uploadId);
  let stored: string | null = null;
  try {
    const file = await receiveFile(c, incoming, maxSize, { tooLarge: tooLarge(maxSize), fields: formFields });
    // v1's route names the key in the path; the form then gives none.
    const inPath = c.req.param('key');
    if (inPath !== undefined && 'key' in file.fields)
      throw new HttpError(400, 'form field "key": the key is in the path already');
    const parsed = fieldsSchema.safeParse(inPath === undefined ? file.fields : { ...file.fields, key: inPath });
    if (!parsed.success) throw new HttpError(400, `invalid form: ${describeIssues(parsed.error)}`);
    const f = parsed.data;
    const key = f.key ?? madeUpKey(f.kind, f.language);
    if (await attachments.get(id, key)) throw new HttpError(409, `media ${id} already has an attachment ${key}`);
    const timed = isTimedText(f.kind);
    stored = attachmentStorageKey(id, key, uploadId, timed);
    let size: number;
    if (timed) {
      const { vtt } = await convertTimedText(c.var.deps, incoming);
      size = await storage.put(stored, vtt);
    } else {
      size = await storage.put(stored, await storage.get(incoming));
    }
    const added = await attachments.add(id, {
      key,
      kind: f.kind,
      language: f.language ?? null,
      label: f.label ? withoutControlChars(f.label) || null : null,
      is_default: f.default === 'true',
      content_type: timed ? 'text/vtt' : (file.contentType ?? 'application/octet-stream'),
      size,
      filename: file.filename,
      storage_key: stored,
    });
    if (added === 'gone') throw new HttpError(404, `media ${id} not found`);
    if (added === 'exists') throw new HttpError(409, `media ${id} already has an attachment ${key}`);
    stored = null; // recorded: kept
    return c.json({ code: 200, data: toAttachmentJson(added) }, 200);
  } finally {
    await storage.deletePrefix(incoming).catch(() => undefined);
    if (stored) await storage.deletePrefix(stored).catch(() => undefined);
  }
}

export const getAttachment: RouteHandler<typeof routes.getAttachment, AppEnv> = async (c) => {
  const { id, key } = c.req.valid('param');
  await existingMedia(c, id);
  const a = await c.var.deps.attachments.get(id, key);
  if (!a) throw new HttpError(404, `media ${id} has no attachment ${key}`);
  const body = await c.var.deps.storage.get(a.storage_key);
  return c.body(Readable.toWeb(body) as unknown as ReadableStream, 200, {
    'Content-Type': a.kind === 'file' ? a.content_type : 'text/vtt; charset=utf-8',
    'Content-Length': String(a.size),
    'Content-Disposition': contentDisposition(a.filename ?? a.key),
    'X-Content-Type-Options': 'nosniff',
  }) as never;
};

export const deleteAttachment: RouteHandler<typeof routes.deleteAttachment, AppEnv> = async (c) => {
  const { id, key } = c.req.valid('param');
  await existingMedia(c, id);
  const removed = await c.var.deps.attachments.remove(id, key);
  if (!removed) throw new HttpError(404, `media ${id} has no attachment ${key}`);
  await c.var.deps.storage
    .deletePrefix(removed.storage_key)
    .catch((err: Error) =>
      c.var.deps.logger.warn({ key: removed.storage_key, err: err.message }, 'could not delete an attachment file'),
    );
  return c.json({ code: 200, data: { key } }, 200);
};
