-- A claim looks up each enabled endpoint's oldest due delivery and locks that
-- endpoint's next due ones: both are walks of this index from its start, whatever the
-- backlog, instead of a scan of every due delivery of every endpoint.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, id)
    WHERE status = 'pending';
