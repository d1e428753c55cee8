-- The admin order search by status, newest first: a page is a walk down this index
-- and its count a range of it, instead of sorting every order of that status by id
-- (or scanning the whole table backwards for a rare status).
CREATE INDEX orders_status_id ON orders (status, id);
