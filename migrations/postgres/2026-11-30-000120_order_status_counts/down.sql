DROP TRIGGER orders_counted ON orders;
DROP FUNCTION count_order_status();
DROP TABLE order_status_counts;
