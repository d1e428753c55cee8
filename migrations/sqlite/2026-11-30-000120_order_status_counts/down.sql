DROP TRIGGER orders_counted_delete;
DROP TRIGGER orders_counted_update;
DROP TRIGGER orders_counted_insert;
DROP TABLE order_status_counts;
