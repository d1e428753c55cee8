-- Exact per-status order counts, kept by the database, for the admin order search's
-- total when it filters by status alone (counting the status's range of
-- `orders (status, id)` costs over 100 ms at a million orders). A status's count is the
-- sum of its 64 rows. Rows are sharded like `change_shards`, by account
-- (`account_shard`), so the orders one transaction writes (an account's new order and
-- the one it replaces) share a shard, and writers for different accounts stay off one
-- hot row. The trigger is deferred to commit, as the change shards' are, so a count
-- row's lock is held only while committing; per order row it fires after
-- `orders_changed` (triggers fire in name order), so a count row is only ever locked by
-- a transaction already holding that shard's change row, and adds no lock-order cycle.
CREATE TABLE order_status_counts (
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'cancelled', 'expired')),
    shard INTEGER NOT NULL CHECK (shard BETWEEN 0 AND 63),
    n BIGINT NOT NULL,
    PRIMARY KEY (status, shard)
);

CREATE FUNCTION count_order_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.account_kind = NEW.account_kind
        AND OLD.account_id = NEW.account_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        UPDATE order_status_counts SET n = n - 1
        WHERE status = OLD.status AND shard = account_shard(OLD.account_kind, OLD.account_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE order_status_counts SET n = n + 1
        WHERE status = NEW.status AND shard = account_shard(NEW.account_kind, NEW.account_id);
    END IF;
    RETURN NULL;
END $$;

-- Created before the back-fill: it locks `orders` against writes until this migration
-- commits, so no order changes between the count and the trigger.
CREATE CONSTRAINT TRIGGER orders_counted
    AFTER INSERT OR UPDATE OF status, account_kind, account_id OR DELETE ON orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_order_status();

INSERT INTO order_status_counts (status, shard, n)
SELECT st.status, s.shard, COALESCE(c.n, 0)
FROM (VALUES ('pending'), ('active'), ('cancelled'), ('expired')) AS st (status)
CROSS JOIN generate_series(0, 63) AS s (shard)
LEFT JOIN (
    SELECT status, account_shard(account_kind, account_id) AS shard, COUNT(*) AS n
    FROM orders GROUP BY 1, 2
) AS c ON c.status = st.status AND c.shard = s.shard;
