DROP TRIGGER users_platform_admin_changed ON users;
DROP FUNCTION platform_api_notify_admin_change();
ALTER TABLE audit_events
    DROP COLUMN impersonation_session_id,
    DROP COLUMN subject_email,
    DROP COLUMN subject_user_id;
DROP TABLE impersonation_sessions;
DROP TABLE impersonation_keys;
