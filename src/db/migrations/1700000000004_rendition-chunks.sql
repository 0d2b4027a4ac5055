-- Up Migration
-- Chunked encoding: a long source's video rungs are encoded in chunks (src/domain/chunks.ts), each
-- its own activity. A rendition counts its chunks; each chunk keeps its own state and, once
-- stored, what its segments are, from which the rendition's playlist is written.
ALTER TABLE renditions ADD COLUMN chunks_total integer CHECK (chunks_total > 0);
ALTER TABLE renditions ADD COLUMN chunks_done integer NOT NULL DEFAULT 0;
-- A rendition published while it encodes (the audio of a chunked media): seconds stored so far.
ALTER TABLE renditions ADD COLUMN stored_seconds double precision NOT NULL DEFAULT 0;

CREATE TABLE rendition_chunks (
  media_id uuid NOT NULL,
  rendition text NOT NULL,
  chunk integer NOT NULL CHECK (chunk >= 0),
  status text NOT NULL DEFAULT 'Pending' CHECK (status IN ('Pending', 'Encoding', 'Ready', 'Errored')),
  progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  attempts integer NOT NULL DEFAULT 0,
  -- Once stored: its segments [{uri, duration, bytes}], its init segment's size and codec string.
  segments jsonb,
  init_bytes integer,
  codecs text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (media_id, rendition, chunk),
  FOREIGN KEY (media_id, rendition) REFERENCES renditions (media_id, name) ON DELETE CASCADE
);

-- Down Migration
DROP TABLE rendition_chunks;
ALTER TABLE renditions DROP COLUMN stored_seconds;
ALTER TABLE renditions DROP COLUMN chunks_done;
ALTER TABLE renditions DROP COLUMN chunks_total;
