-- What billing adds to an order: its cycle, the account credit paying it (after tax),
-- what its period is worth for a later unused-time credit, the coupon it carries (and
-- which of the coupon's periods it pays for), and a plan change scheduled for the end
-- of its period.
ALTER TABLE orders ADD COLUMN cycle TEXT NOT NULL DEFAULT 'monthly';
ALTER TABLE orders ADD COLUMN credit_applied_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN period_value_minor BIGINT;
ALTER TABLE orders ADD COLUMN coupon_code TEXT;
ALTER TABLE orders ADD COLUMN coupon_period INTEGER;
ALTER TABLE orders ADD COLUMN scheduled_plan_id BIGINT;
ALTER TABLE orders ADD COLUMN scheduled_cycle TEXT;
ALTER TABLE orders ADD COLUMN scheduled_at TIMESTAMP;
