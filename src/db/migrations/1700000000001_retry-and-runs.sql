-- Up Migration
-- The Temporal run that processes (or last processed) the media, for links into the Temporal UI.
ALTER TABLE medias ADD COLUMN workflow_run_id text;
-- Upload from URL: kept so that a retry fetches again when the first fetch failed.
ALTER TABLE medias ADD COLUMN source_url text;
-- The admin page filters by status.
CREATE INDEX medias_status_idx ON medias (status, created_at DESC);

-- Down Migration
DROP INDEX medias_status_idx;
ALTER TABLE medias DROP COLUMN source_url;
ALTER TABLE medias DROP COLUMN workflow_run_id;
