-- Reverts 2026-11-23-000001_init/up.sql: drops everything it created, in reverse order.
-- Dropping a table also drops its indexes, constraints, triggers and comments.

DROP TABLE audit_events;
DROP TABLE subscriptions;
DROP TABLE partner_staff;
DROP TABLE memberships;
DROP TABLE tenants;
DROP TABLE partners;
DROP TABLE users;

DROP FUNCTION audit_events_append_only();
DROP FUNCTION set_updated_at();
