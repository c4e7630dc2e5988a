-- changeMemberRole runs a member operation when the member's role in the tenant's files
-- space changes (one oCIS step).
ALTER TABLE memberships DROP CONSTRAINT memberships_operation_valid;
ALTER TABLE memberships ADD CONSTRAINT memberships_operation_valid
    CHECK (operation IN ('create', 'suspend', 'resume', 'reset_password', 'remove', 'change_role'));
