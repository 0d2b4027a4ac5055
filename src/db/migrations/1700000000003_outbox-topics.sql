-- Up Migration
-- The outbox holds a message's topic (media.uploaded), and the relay decides from it where the
-- message goes; before, the API wrote its RabbitMQ queue name there. Every row until now was a
-- "media uploaded" message.
UPDATE outbox SET topic = 'media.uploaded' WHERE topic <> 'media.uploaded';
COMMENT ON COLUMN outbox.topic IS 'what the message is about (src/domain/messages.ts topics); the relay maps it to its destination';

-- Down Migration
-- The queue names are not kept: rows unpublished at a downgrade go to the default queue.
UPDATE outbox SET topic = 'gilfoyle.media.uploaded' WHERE topic = 'media.uploaded' AND published_at IS NULL;
COMMENT ON COLUMN outbox.topic IS NULL;
