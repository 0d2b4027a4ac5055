-- Up Migration
-- Webhooks: endpoints the user's backend registered (or gilfoyle.yml declared), one delivery per
-- endpoint and event (its id is the Standard Webhooks `webhook-id`, the same on every retry), and
-- every attempt of a delivery with its answer.
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  url text NOT NULL,
  description text NOT NULL DEFAULT '',
  -- Event types or prefixes ("media.*"); NULL: every type.
  events text[],
  enabled boolean NOT NULL DEFAULT true,
  secret text NOT NULL,
  -- Declared in gilfoyle.yml: changed there, not through the API.
  declared boolean NOT NULL DEFAULT false,
  -- Since when every attempt failed (NULL while it answers); past webhooks.disable_after_seconds it is disabled.
  failing_since timestamptz,
  disabled_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  -- The event's id: an event relayed twice finds its delivery already there.
  event_id text NOT NULL,
  type text NOT NULL,
  media_id uuid,
  -- The exact body sent, the same on every attempt.
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  -- Each redelivery runs the delivery again (a workflow of its own).
  runs integer NOT NULL DEFAULT 1,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  status_code integer,
  error text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
