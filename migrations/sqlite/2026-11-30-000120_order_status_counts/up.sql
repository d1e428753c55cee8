-- Exact per-status order counts, kept by the database, for the admin order search's
-- total when it filters by status alone (counting the status's range of
-- `orders (status, id)` costs tens of milliseconds at a million orders). A status's
-- count is the sum of its 64 rows. Rows are sharded like `change_shards`, by account:
-- shard = (account_id * 2 + (1 for an organisation, 0 for a user)) % 64, so the orders
-- one transaction writes (an account's new order and the one it replaces) share a
-- shard, and writers for different accounts stay off one hot row.
CREATE TABLE order_status_counts (
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'cancelled', 'expired')),
    shard INTEGER NOT NULL CHECK (shard BETWEEN 0 AND 63),
    n BIGINT NOT NULL,
    PRIMARY KEY (status, shard)
) WITHOUT ROWID;

INSERT INTO order_status_counts (status, shard, n)
SELECT status, (account_id * 2 + (account_kind = 'org')) % 64, COUNT(*)
FROM orders GROUP BY 1, 2;

WITH RECURSIVE shards(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM shards WHERE s < 63)
INSERT OR IGNORE INTO order_status_counts (status, shard, n)
SELECT st.status, shards.s, 0
FROM shards,
     (SELECT 'pending' AS status UNION ALL SELECT 'active'
      UNION ALL SELECT 'cancelled' UNION ALL SELECT 'expired') AS st;

CREATE TRIGGER orders_counted_insert AFTER INSERT ON orders BEGIN
    UPDATE order_status_counts SET n = n + 1
    WHERE status = NEW.status
      AND shard = (NEW.account_id * 2 + (NEW.account_kind = 'org')) % 64;
END;
CREATE TRIGGER orders_counted_update AFTER UPDATE OF status, account_kind, account_id ON orders
WHEN OLD.status <> NEW.status OR OLD.account_kind <> NEW.account_kind
     OR OLD.account_id <> NEW.account_id
BEGIN
    UPDATE order_status_counts SET n = n - 1
    WHERE status = OLD.status
      AND shard = (OLD.account_id * 2 + (OLD.account_kind = 'org')) % 64;
    UPDATE order_status_counts SET n = n + 1
    WHERE status = NEW.status
      AND shard = (NEW.account_id * 2 + (NEW.account_kind = 'org')) % 64;
END;
CREATE TRIGGER orders_counted_delete AFTER DELETE ON orders BEGIN
    UPDATE order_status_counts SET n = n - 1
    WHERE status = OLD.status
      AND shard = (OLD.account_id * 2 + (OLD.account_kind = 'org')) % 64;
END;
