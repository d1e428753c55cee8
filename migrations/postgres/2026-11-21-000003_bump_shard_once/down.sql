-- Back to one bump per trigger firing (the functions of 2026-11-21-000002).
CREATE OR REPLACE FUNCTION bump_order_shards() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION bump_order_item_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_shards SET version = version + 1
    WHERE shard IN (SELECT account_shard(account_kind, account_id) FROM orders
                    WHERE id IN (
                        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.order_id END,
                        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.order_id END));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bump_member_shards() RETURNS trigger LANGUAGE plpgsql AS $$
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

DROP FUNCTION bump_shard(INTEGER);
