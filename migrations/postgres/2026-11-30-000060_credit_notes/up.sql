-- Credit notes: money given back on a paid order, numbered in their own gapless series
-- per year (the counter row is bumped inside the issuing transaction and locked until
-- commit, like invoice_counters).
CREATE TABLE credit_note_counters (
    year INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE credit_notes (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    account_kind TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    invoice_number TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- The order's total, and the sum of its credit notes up to and including this one,
    -- computed in the issuing transaction (which holds the order's row): the sum rule
    -- is checked here too.
    order_total_minor BIGINT NOT NULL,
    refunded_after_minor BIGINT NOT NULL,
    reason TEXT NOT NULL,
    refund_to TEXT NOT NULL CHECK (refund_to IN ('original', 'credit')),
    refund_provider TEXT NOT NULL,
    refund_status TEXT NOT NULL,
    -- The gateway's refund id: one credit note per gateway refund. NULL for manual and
    -- credit refunds (NULLs never collide).
    refund_reference TEXT,
    created_at TIMESTAMP NOT NULL,
    CHECK (amount_minor > 0),
    CHECK (refunded_after_minor <= order_total_minor)
);
CREATE UNIQUE INDEX credit_notes_number ON credit_notes (year, seq);
CREATE UNIQUE INDEX credit_notes_number_text ON credit_notes (number);
CREATE UNIQUE INDEX credit_notes_refund_reference ON credit_notes (refund_reference);
-- Two notes of one order can never both start from the same refunded sum.
CREATE UNIQUE INDEX credit_notes_order_running ON credit_notes (order_id, refunded_after_minor);
