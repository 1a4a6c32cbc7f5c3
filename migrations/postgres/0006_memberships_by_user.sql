-- A user's tenant list is read a page at a time in membership order
-- (created_at, tenant_id): with the order in the index, each page is one
-- range scan, however many tenants the user belongs to (BENCHMARKS.md,
-- "A million tenants"). It replaces the index on user_id alone.
CREATE INDEX tenant_users_by_user_in_order ON users.tenant_users (user_id, created_at, tenant_id);
DROP INDEX users.tenant_users_by_user;
