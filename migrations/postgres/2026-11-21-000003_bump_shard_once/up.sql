-- A transaction bumps each change shard at most once. Why: the triggers are deferred to
-- commit, and an activation fires five of them (order insert, line insert, replaced
-- order, activation, numbering), all for the same shard, while it still holds the
-- year's invoice counter lock; one bump tells the caches all they need. The mark is a
-- transaction-local setting, so it is gone when the transaction ends.
CREATE FUNCTION bump_shard(target INTEGER) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    mark TEXT := 'tariff.bumped_shard_' || target;
BEGIN
    IF coalesce(current_setting(mark, true), '') = '' THEN
        UPDATE change_shards SET version = version + 1 WHERE shard = target;
        PERFORM set_config(mark, 'yes', true);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION bump_order_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_shard(account_shard(OLD.account_kind, OLD.account_id));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM bump_shard(account_shard(NEW.account_kind, NEW.account_id));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bump_order_item_shards() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target INTEGER;
BEGIN
    FOR target IN
        SELECT DISTINCT account_shard(account_kind, account_id) FROM orders
        WHERE id IN (CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.order_id END,
                     CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.order_id END)
    LOOP
        PERFORM bump_shard(target);
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bump_member_shards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM bump_shard(account_shard('user', OLD.user_id));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM bump_shard(account_shard('user', NEW.user_id));
    END IF;
    RETURN NULL;
END $$;
