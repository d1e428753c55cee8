DROP TABLE gateway_customers;
DROP TABLE checkout_sessions;
DROP TABLE gateway_events;
DROP TABLE payments;
ALTER TABLE orders DROP COLUMN paid_at;
