-- Up Migration
-- Clips: a media made from a time range of another's source ({media_id, start, end}). The clip's
-- own source is cut from the parent's while it is processed, so deleting the parent later breaks nothing.
ALTER TABLE medias ADD COLUMN clip jsonb;

-- Down Migration
ALTER TABLE medias DROP COLUMN clip;
