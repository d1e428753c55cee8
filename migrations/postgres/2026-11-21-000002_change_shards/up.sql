-- Change versions that order-list caches on every instance poll. Each account hashes
-- to one of 64 shards: shard = (account_id * 2 + (1 for an organisation, 0 for a
-- user)) % 64 (the same formula is in crates/domain/src/orders/freshness.rs). Every
-- write to an account's orders bumps its shard; every membership change bumps the
-- member's shard, since it changes which organisations' orders the member sees.
-- Sharding keeps concurrent writers for different accounts off one hot row, and the
-- triggers are deferred to commit so a shard's row lock is held only while committing.
CREATE TABLE change_shards (
    shard INTEGER PRIMARY KEY NOT NULL CHECK (shard BETWEEN 0 AND 63),
    version BIGINT NOT NULL
);
INSERT INTO change_shards (shard, version) SELECT n, 1 FROM generate_series(0, 63) AS n;

CREATE FUNCTION account_shard(kind TEXT, id BIGINT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ((id * 2 + CASE WHEN kind = 'org' THEN 1 ELSE 0 END) % 64)::INTEGER $$;

CREATE FUNCTION bump_order_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE change_shards SET version = version + 1
        WHERE shard = account_shard(OLD.account_kind, OLD.account_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND
        account_shard(OLD.account_kind, OLD.account_id)
            <> account_shard(NEW.account_kind, NEW.account_id)) THEN
        UPDATE change_shards SET version = version + 1
        WHERE shard = account_shard(NEW.account_kind, NEW.account_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION bump_order_item_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN (SELECT account_shard(account_kind, account_id) FROM orders
                    WHERE id IN (
                        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.order_id END,
                        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.order_id END));
    RETURN NULL;
END $$;

CREATE FUNCTION bump_member_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE change_shards SET version = version + 1
        WHERE shard = account_shard('user', OLD.user_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id) THEN
        UPDATE change_shards SET version = version + 1
        WHERE shard = account_shard('user', NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER orders_changed AFTER INSERT OR UPDATE OR DELETE ON orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_order_shards();
CREATE CONSTRAINT TRIGGER order_items_changed AFTER INSERT OR UPDATE OR DELETE ON order_items
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_order_item_shards();
CREATE CONSTRAINT TRIGGER org_members_changed AFTER INSERT OR UPDATE OR DELETE ON org_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_member_shards();
