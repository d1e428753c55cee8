-- Issued documents, rendered once when their number is issued and never changed: an
-- invoice belongs to its order (owner_id = orders.id); a credit note will be another
-- kind. The PDFs of orders numbered before this table existed are made by the
-- application's start-up backfill (SQL cannot render them).
CREATE TABLE documents (
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    owner_id BIGINT NOT NULL,
    number TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    content BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, owner_id),
    UNIQUE (kind, number)
);
