-- Outgoing webhooks: endpoints, the outbox of events and their deliveries, and the
-- per-account sequence counters. Keep in step with ../../postgres and crates/persistence/src/schema.rs.

-- An endpoint and its signing keys. `secret` and `previous_secret` hold the whsec_
-- secrets: they are needed in clear to sign, so they cannot be hashed.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    -- JSON array of event names, or ["*"].
    events TEXT NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_signs_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every stored event, whether or not an endpoint listens. `body` is the JSON every
-- attempt sends, serialised once.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    -- 'user:55', 'org:12', or 'catalogue' for events without an account.
    stream TEXT NOT NULL,
    sequence BIGINT NOT NULL CHECK (sequence > 0),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (stream, sequence)
);

-- The last sequence number given in each stream; bumped in the event's transaction.
CREATE TABLE webhook_sequences (
    stream TEXT PRIMARY KEY NOT NULL,
    last_value BIGINT NOT NULL
);

-- One event to one endpoint. A claim stamps lease_holder, lease_token and lease_until;
-- recording the outcome or releasing clears them.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_row_id BIGINT NOT NULL REFERENCES webhook_events (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    series_attempt INTEGER NOT NULL CHECK (series_attempt >= 1),
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    lease_holder TEXT,
    lease_token TEXT,
    lease_until TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until)
    WHERE lease_until IS NOT NULL;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at, id);
