-- Renewals charged off-session and dunning. Keep in step with ../../postgres and
-- crates/persistence/src/schema.rs.

-- When the order's period ended with its renewal unpaid: it stays active for the
-- grace days, answers "pastDue": true, and `order.past_due` was sent once.
ALTER TABLE orders ADD COLUMN past_due_at TIMESTAMP;

-- One row per off-session charge attempt of a pending renewal, claimed BEFORE the
-- gateway is called: the primary key makes a second claim of the same attempt (another
-- sweep, another instance) fail, and the gateway's idempotency key is derived from
-- (order_id, attempt), so a repeat after a crash charges once. `finished_at` is set
-- once the outcome is recorded; an unfinished claim older than the lease is taken
-- over and repeated with the same key.
CREATE TABLE renewal_charges (
    order_id BIGINT NOT NULL REFERENCES orders (id),
    attempt INTEGER NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- succeeded, declined, requires_action, processing, error
    outcome TEXT,
    reference TEXT,
    PRIMARY KEY (order_id, attempt),
    CHECK (attempt >= 1)
);
