UPDATE memberships SET operation = NULL WHERE operation = 'change_role';
ALTER TABLE memberships DROP CONSTRAINT memberships_operation_valid;
ALTER TABLE memberships ADD CONSTRAINT memberships_operation_valid
    CHECK (operation IN ('create', 'suspend', 'resume', 'reset_password', 'remove'));
