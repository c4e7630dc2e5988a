-- Expand: give memberships a surrogate id so a Member can be a Relay node. The composite
-- primary key (user_id, tenant_id) stays the identity rule.
ALTER TABLE memberships ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX memberships_id_key ON memberships (id);
COMMENT ON COLUMN memberships.id IS 'Surrogate id (the Member node id); (user_id, tenant_id) stays the key.';
