ALTER TABLE orders DROP COLUMN scheduled_at;
ALTER TABLE orders DROP COLUMN scheduled_cycle;
ALTER TABLE orders DROP COLUMN scheduled_plan_id;
ALTER TABLE orders DROP COLUMN coupon_period;
ALTER TABLE orders DROP COLUMN coupon_code;
ALTER TABLE orders DROP COLUMN period_value_minor;
ALTER TABLE orders DROP COLUMN credit_applied_minor;
ALTER TABLE orders DROP COLUMN cycle;
