DROP TRIGGER org_members_changed ON org_members;
DROP TRIGGER order_items_changed ON order_items;
DROP TRIGGER orders_changed ON orders;
DROP FUNCTION bump_member_shards();
DROP FUNCTION bump_order_item_shards();
DROP FUNCTION bump_order_shards();
DROP FUNCTION account_shard(TEXT, BIGINT);
DROP TABLE change_shards;
