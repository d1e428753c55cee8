-- Tariff schema, PostgreSQL flavour. Keep in step with ../sqlite and crates/persistence/src/schema.rs.
-- Money is integer minor units; timestamps are UTC text written by diesel.

CREATE TABLE plans (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    plan_type TEXT NOT NULL CHECK (plan_type IN ('free', 'paid', 'edu', 'enterprise')),
    description TEXT,
    currency TEXT NOT NULL,
    price_monthly_minor BIGINT NOT NULL CHECK (price_monthly_minor >= 0),
    price_hourly_minor BIGINT NOT NULL CHECK (price_hourly_minor >= 0),
    price_yearly_minor BIGINT NOT NULL CHECK (price_yearly_minor >= 0),
    memory BIGINT NOT NULL CHECK (memory >= 0),
    disk BIGINT NOT NULL CHECK (disk >= 0),
    cpu BIGINT NOT NULL CHECK (cpu >= 0),
    servers BIGINT NOT NULL CHECK (servers >= 0),
    sites BIGINT NOT NULL CHECK (sites >= 0),
    databases BIGINT NOT NULL CHECK (databases >= 0),
    backups BIGINT NOT NULL CHECK (backups >= 0),
    port_count BIGINT NOT NULL CHECK (port_count >= 0),
    tunnel_port_count BIGINT NOT NULL CHECK (tunnel_port_count >= 0),
    email_daily_limit BIGINT NOT NULL CHECK (email_daily_limit >= 0),
    email_queue_limit BIGINT NOT NULL CHECK (email_queue_limit >= 0),
    server_create BOOLEAN NOT NULL,
    server_update BOOLEAN NOT NULL,
    server_delete BOOLEAN NOT NULL,
    site_create BOOLEAN NOT NULL,
    site_update BOOLEAN NOT NULL,
    site_delete BOOLEAN NOT NULL,
    features TEXT NOT NULL DEFAULT '{}',
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    stripe_plan_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX plans_name_unique ON plans (lower(name));
-- At most one default plan, held by the database.
CREATE UNIQUE INDEX plans_one_default ON plans (is_default) WHERE is_default;
CREATE INDEX plans_catalogue_order ON plans (price_monthly_minor, id);

-- Switches such as billing_enabled, as text.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('billing_enabled', 'true');

-- Version counters that caches on every instance poll: `catalogue` is bumped by every
-- plan write, `settings` by every settings write, in the same transaction.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('catalogue', 1), ('settings', 1);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT,
    company TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    city TEXT,
    postcode TEXT,
    country TEXT,
    tax_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

CREATE TABLE organisations (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    company TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    city TEXT,
    postcode TEXT,
    country TEXT,
    tax_id TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE org_members (
    org_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    account_kind TEXT NOT NULL CHECK (account_kind IN ('user', 'org')),
    account_id BIGINT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    org_id BIGINT REFERENCES organisations (id),
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'cancelled', 'expired')),
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL CHECK (subtotal_minor >= 0),
    tax_rate_bp INTEGER NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    tax_minor BIGINT NOT NULL CHECK (tax_minor >= 0),
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    description TEXT NOT NULL,
    notes TEXT,
    payment_reference TEXT,
    renewal_of BIGINT REFERENCES orders (id),
    created_at TIMESTAMP NOT NULL,
    activated_at TIMESTAMP,
    expires_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    invoice_year INTEGER,
    invoice_seq BIGINT,
    invoice_number TEXT UNIQUE,
    invoice_snapshot TEXT,
    CHECK ((account_kind = 'user' AND user_id = account_id) OR (account_kind = 'org' AND org_id = account_id))
);
-- One active plan order per account, held by the database.
CREATE UNIQUE INDEX orders_one_active_per_account ON orders (account_kind, account_id) WHERE status = 'active';
-- One renewal per order.
CREATE UNIQUE INDEX orders_one_renewal ON orders (renewal_of) WHERE renewal_of IS NOT NULL;
CREATE UNIQUE INDEX orders_invoice_seq ON orders (invoice_year, invoice_seq) WHERE invoice_seq IS NOT NULL;
CREATE INDEX orders_account ON orders (account_kind, account_id, id);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_plan ON orders (plan_id);
CREATE INDEX orders_status_expiry ON orders (status, expires_at);

CREATE TABLE order_items (
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- Gapless invoice numbers: one counter row per calendar year, bumped inside the
-- activating transaction.
CREATE TABLE invoice_counters (
    year INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE usage_counters (
    account_kind TEXT NOT NULL CHECK (account_kind IN ('user', 'org')),
    account_id BIGINT NOT NULL,
    resource TEXT NOT NULL,
    used BIGINT NOT NULL CHECK (used >= 0),
    period_day TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_kind, account_id, resource)
);

CREATE TABLE limit_overrides (
    account_kind TEXT NOT NULL CHECK (account_kind IN ('user', 'org')),
    account_id BIGINT NOT NULL,
    resource TEXT NOT NULL,
    value BIGINT NOT NULL CHECK (value >= 0),
    PRIMARY KEY (account_kind, account_id, resource)
);

CREATE TABLE idempotency_keys (
    account_kind TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_kind, account_id, idempotency_key)
);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor_user_id BIGINT,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id BIGINT,
    before_state TEXT,
    after_state TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id);
