-- Up Migration
-- The trace id of the latest upload or retry (when tracing is on): the admin page links to that
-- trace in Jaeger. Additive: an older release neither reads nor writes it.
ALTER TABLE medias ADD COLUMN trace_id text;

-- Down Migration
ALTER TABLE medias DROP COLUMN trace_id;
