-- Up Migration
CREATE TABLE medias (
  id uuid PRIMARY KEY,
  title text NOT NULL,
  status text NOT NULL DEFAULT 'AwaitingUpload'
    CHECK (status IN ('AwaitingUpload', 'ScheduledProcessing', 'Processing', 'Ready', 'Errored')),
  source_kind text CHECK (source_kind IN ('video', 'audio')),
  source_key text,
  source_size bigint,
  source_filename text,
  source_content_type text,
  probe jsonb,
  duration double precision,
  playable boolean NOT NULL DEFAULT false,
  progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX medias_created_at_idx ON medias (created_at DESC, id);

CREATE TABLE renditions (
  media_id uuid NOT NULL REFERENCES medias(id) ON DELETE CASCADE,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('video', 'audio')),
  status text NOT NULL DEFAULT 'Pending' CHECK (status IN ('Pending', 'Encoding', 'Ready', 'Errored')),
  width integer,
  height integer,
  frame_rate double precision,
  video_bitrate integer,
  audio_bitrate integer,
  bandwidth integer,
  average_bandwidth integer,
  codecs text,
  playlist text,
  progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  attempts integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (media_id, name)
);

CREATE TABLE media_events (
  id bigserial PRIMARY KEY,
  media_id uuid NOT NULL REFERENCES medias(id) ON DELETE CASCADE,
  type text NOT NULL,
  level text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_events_media_idx ON media_events (media_id, id);

-- Messages to publish to RabbitMQ, written in the same transaction as the state change.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE outbox;
DROP TABLE media_events;
DROP TABLE renditions;
DROP TABLE medias;
