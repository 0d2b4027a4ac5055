-- Up Migration
-- A private media is streamed only with a signed playback token.
ALTER TABLE medias ADD COLUMN private boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE medias DROP COLUMN private;
