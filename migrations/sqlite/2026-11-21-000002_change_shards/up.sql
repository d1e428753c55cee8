-- Change versions that order-list caches on every instance poll. Each account hashes
-- to one of 64 shards: shard = (account_id * 2 + (1 for an organisation, 0 for a
-- user)) % 64 (the same formula is in crates/domain/src/orders/freshness.rs). Every
-- write to an account's orders bumps its shard; every membership change bumps the
-- member's shard, since it changes which organisations' orders the member sees.
-- Sharding keeps concurrent writers for different accounts off one hot row.
CREATE TABLE change_shards (
    shard INTEGER PRIMARY KEY NOT NULL CHECK (shard BETWEEN 0 AND 63),
    version BIGINT NOT NULL
);
WITH RECURSIVE shards(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM shards WHERE n < 63)
INSERT INTO change_shards (shard, version) SELECT n, 1 FROM shards;

CREATE TRIGGER orders_changed_insert AFTER INSERT ON orders BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard = (NEW.account_id * 2 + (NEW.account_kind = 'org')) % 64;
END;
CREATE TRIGGER orders_changed_update AFTER UPDATE ON orders BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN ((OLD.account_id * 2 + (OLD.account_kind = 'org')) % 64,
                    (NEW.account_id * 2 + (NEW.account_kind = 'org')) % 64);
END;
CREATE TRIGGER orders_changed_delete AFTER DELETE ON orders BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard = (OLD.account_id * 2 + (OLD.account_kind = 'org')) % 64;
END;
-- Lines belong to their order's account.
CREATE TRIGGER order_items_changed AFTER UPDATE ON order_items BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN (SELECT (account_id * 2 + (account_kind = 'org')) % 64 FROM orders
                    WHERE id IN (OLD.order_id, NEW.order_id));
END;
CREATE TRIGGER order_items_removed AFTER DELETE ON order_items BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN (SELECT (account_id * 2 + (account_kind = 'org')) % 64 FROM orders
                    WHERE id = OLD.order_id);
END;
CREATE TRIGGER order_items_added AFTER INSERT ON order_items BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN (SELECT (account_id * 2 + (account_kind = 'org')) % 64 FROM orders
                    WHERE id = NEW.order_id);
END;
CREATE TRIGGER org_members_added AFTER INSERT ON org_members BEGIN
    UPDATE change_shards SET version = version + 1 WHERE shard = (NEW.user_id * 2) % 64;
END;
CREATE TRIGGER org_members_changed AFTER UPDATE ON org_members BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN ((OLD.user_id * 2) % 64, (NEW.user_id * 2) % 64);
END;
CREATE TRIGGER org_members_removed AFTER DELETE ON org_members BEGIN
    UPDATE change_shards SET version = version + 1 WHERE shard = (OLD.user_id * 2) % 64;
END;
