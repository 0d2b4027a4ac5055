-- Up Migration
-- Attachments of a media (the v1 routes /medias/{id}/attachments): timed text (subtitles,
-- captions, chapters), kept as WebVTT in the media's stream folder, and other files kept as they
-- came. Uploaded through the API, or taken from the source's own subtitle streams while it is processed.
CREATE TABLE attachments (
  media_id uuid NOT NULL REFERENCES medias(id) ON DELETE CASCADE,
  key text NOT NULL CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  kind text NOT NULL CHECK (kind IN ('subtitles', 'captions', 'chapters', 'file')),
  language text,
  label text,
  is_default boolean NOT NULL DEFAULT false,
  content_type text NOT NULL,
  size bigint NOT NULL,
  filename text,
  -- Where its bytes are: a stream file (timed text) or a key under medias/{id}/attachments/.
  storage_key text NOT NULL,
  -- 'upload' (the API) or 'source' (a subtitle stream of the source).
  origin text NOT NULL DEFAULT 'upload',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (media_id, key)
);

-- Down Migration
DROP TABLE attachments;
