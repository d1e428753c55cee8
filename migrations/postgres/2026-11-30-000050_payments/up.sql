-- Payments: money received (or refused) for orders, the inbound gateway events that
-- moved it, the hosted checkouts opened for orders and the gateway customer of each
-- account. Keep in step with ../../sqlite and crates/persistence/src/schema.rs.

ALTER TABLE orders ADD COLUMN paid_at TIMESTAMP;

-- One row per payment attempt Tariff knows of: succeeded, failed, mismatch (money
-- taken that does not match the order's total; the order is not activated) or
-- refunded. Manual payments (mark-paid) have provider 'manual'.
CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    reference TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The inbound event that recorded it (NULL for manual payments).
    gateway_event_id TEXT,
    created_at TIMESTAMP NOT NULL,
    CHECK (status IN ('succeeded', 'failed', 'mismatch', 'refunded'))
);
CREATE INDEX payments_order ON payments (order_id, id);
CREATE INDEX payments_status ON payments (status);

-- Every verified inbound event, by the gateway's id. The row is inserted in the same
-- transaction as the event's effect: a redelivery, also a concurrent one, finds it
-- and has no effect.
CREATE TABLE gateway_events (
    id BIGSERIAL PRIMARY KEY,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- applied, mismatch, failed, ignored
    outcome TEXT NOT NULL,
    order_id BIGINT,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX gateway_events_unique ON gateway_events (provider, event_id);

-- Hosted checkouts opened for orders; the open one is handed out again.
CREATE TABLE checkout_sessions (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    url TEXT NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX checkout_sessions_attempt ON checkout_sessions (order_id, attempt);
CREATE INDEX checkout_sessions_session ON checkout_sessions (session_id);

-- The gateway's customer of each account (one per provider).
CREATE TABLE gateway_customers (
    account_kind TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    provider TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_kind, account_id, provider)
);
