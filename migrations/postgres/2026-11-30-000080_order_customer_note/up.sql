-- The customer's own note on an order (`notes` on POST /api/orders), kept apart from
-- the internal `notes` that only administrators see.
ALTER TABLE orders ADD COLUMN customer_note TEXT
    CHECK (customer_note IS NULL OR char_length(customer_note) BETWEEN 1 AND 2000);
