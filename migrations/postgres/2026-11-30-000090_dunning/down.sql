DROP TABLE renewal_charges;
ALTER TABLE orders DROP COLUMN past_due_at;
