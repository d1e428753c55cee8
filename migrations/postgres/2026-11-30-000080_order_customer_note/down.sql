ALTER TABLE orders DROP COLUMN customer_note;
