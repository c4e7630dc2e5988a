DROP INDEX memberships_id_key;
ALTER TABLE memberships DROP COLUMN id;
