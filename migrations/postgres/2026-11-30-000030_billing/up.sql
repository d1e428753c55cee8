-- Coupons, their redemptions, and the account credit ledger.

CREATE TABLE coupons (
    id BIGSERIAL PRIMARY KEY,
    -- Upper-cased: codes are case-insensitive.
    code TEXT NOT NULL,
    percent_off_bp INTEGER,
    amount_off_minor BIGINT,
    currency TEXT,
    duration TEXT NOT NULL,
    duration_in_cycles INTEGER,
    max_redemptions INTEGER,
    once_per_account BOOLEAN NOT NULL,
    valid_from TIMESTAMP,
    valid_until TIMESTAMP,
    -- JSON array of plan ids; empty: every plan.
    plan_ids TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    times_redeemed INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP,
    CHECK ((percent_off_bp IS NULL) <> (amount_off_minor IS NULL)),
    CHECK (times_redeemed >= 0),
    CHECK (max_redemptions IS NULL OR times_redeemed <= max_redemptions)
);
CREATE UNIQUE INDEX coupons_code_unique ON coupons (code);

CREATE TABLE coupon_redemptions (
    id BIGSERIAL PRIMARY KEY,
    coupon_id BIGINT NOT NULL REFERENCES coupons (id),
    account_kind TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    discount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- 1 while a once-per-account redemption stands, NULL otherwise (NULLs never collide),
    -- so the unique index below allows one standing redemption per account.
    once_slot INTEGER,
    redeemed_at TIMESTAMP NOT NULL,
    released_at TIMESTAMP
);
CREATE UNIQUE INDEX coupon_redemptions_once_per_account
    ON coupon_redemptions (coupon_id, account_kind, account_id, once_slot);
CREATE INDEX coupon_redemptions_order ON coupon_redemptions (order_id);

CREATE TABLE credit_entries (
    id BIGSERIAL PRIMARY KEY,
    account_kind TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    -- The sum of the account's entries in this currency up to and including this one,
    -- computed in the appending transaction: never below zero.
    balance_after_minor BIGINT NOT NULL,
    reason_kind TEXT NOT NULL,
    reason_text TEXT NOT NULL,
    order_id BIGINT REFERENCES orders (id),
    created_at TIMESTAMP NOT NULL,
    CHECK (amount_minor <> 0),
    CHECK (balance_after_minor >= 0)
);
CREATE INDEX credit_entries_account ON credit_entries (account_kind, account_id, currency, id);
CREATE INDEX credit_entries_order ON credit_entries (order_id);
