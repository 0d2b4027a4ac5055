-- Up Migration
-- The W3C trace context (traceparent, tracestate) of what wrote the row: the relay continues that
-- trace when it publishes, so one media's spans form one trace. Additive: an older relay ignores it.
ALTER TABLE outbox ADD COLUMN trace_context jsonb;

-- Down Migration
ALTER TABLE outbox DROP COLUMN trace_context;
