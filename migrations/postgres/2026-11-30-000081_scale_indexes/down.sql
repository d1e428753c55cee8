DROP INDEX orders_status_id;
