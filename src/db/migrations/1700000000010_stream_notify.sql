-- Up Migration
-- The API's stream cache (src/api/stream-cache.ts) keeps what a stream request needs to know of a
-- media (its row, its text tracks). Any change that matters to it, by whichever process, notifies
-- channel gilfoyle_media with the media id when its transaction commits, and the API forgets that
-- media at once. Progress ticks are not such a change. Additive: an older release ignores them.
CREATE FUNCTION gilfoyle_notify_media() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gilfoyle_media', to_jsonb(COALESCE(NEW, OLD)) ->> TG_ARGV[0]);
  RETURN NULL;
END $$;

CREATE TRIGGER medias_stream_notify_insert_delete AFTER INSERT OR DELETE ON medias
  FOR EACH ROW EXECUTE FUNCTION gilfoyle_notify_media('id');
CREATE TRIGGER medias_stream_notify_update AFTER UPDATE ON medias
  FOR EACH ROW WHEN (
    OLD.status IS DISTINCT FROM NEW.status OR OLD.playable IS DISTINCT FROM NEW.playable
    OR OLD.private IS DISTINCT FROM NEW.private OR OLD.duration IS DISTINCT FROM NEW.duration
    OR OLD.workflow_run_id IS DISTINCT FROM NEW.workflow_run_id OR OLD.source_key IS DISTINCT FROM NEW.source_key)
  EXECUTE FUNCTION gilfoyle_notify_media('id');
CREATE TRIGGER attachments_stream_notify AFTER INSERT OR UPDATE OR DELETE ON attachments
  FOR EACH ROW EXECUTE FUNCTION gilfoyle_notify_media('media_id');
CREATE TRIGGER renditions_stream_notify AFTER INSERT OR DELETE OR UPDATE OF chunks_total ON renditions
  FOR EACH ROW EXECUTE FUNCTION gilfoyle_notify_media('media_id');

-- Down Migration
DROP TRIGGER renditions_stream_notify ON renditions;
DROP TRIGGER attachments_stream_notify ON attachments;
DROP TRIGGER medias_stream_notify_update ON medias;
DROP TRIGGER medias_stream_notify_insert_delete ON medias;
DROP FUNCTION gilfoyle_notify_media();
