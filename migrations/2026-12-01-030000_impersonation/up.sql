-- Impersonation through OAuth 2.0 Token Exchange (issue 23).

-- The public halves of this server's impersonation signing keys. The private halves live in
-- the memory of the process that made them and are never stored anywhere: a key signs for at
-- most IMPERSONATION_KEY_ROTATION, and its public half is kept until the last token it
-- signed has expired (`retire_at`), so every replica can verify every token.
CREATE TABLE impersonation_keys (
    kid        text        PRIMARY KEY,
    public_jwk jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retire_at  timestamptz NOT NULL,
    CONSTRAINT impersonation_keys_public_only CHECK (NOT (public_jwk ? 'd'))
);

COMMENT ON TABLE impersonation_keys IS
    'Public JWKs of the impersonation signing keys (never the private key: a CHECK refuses a `d` member).';
COMMENT ON COLUMN impersonation_keys.retire_at IS
    'After this the key is no longer served nor trusted: every token it signed has expired.';

CREATE TABLE impersonation_sessions (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    operator_user_id uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    tenant_id        uuid        NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    reason           text        NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    ended_at         timestamptz NULL,
    ended_by_user_id uuid        NULL REFERENCES users (id) ON DELETE RESTRICT,

    CONSTRAINT impersonation_sessions_reason_length
        CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500),
    CONSTRAINT impersonation_sessions_expires_after_start CHECK (expires_at > started_at),
    CONSTRAINT impersonation_sessions_not_self CHECK (operator_user_id <> user_id)
);

COMMENT ON TABLE impersonation_sessions IS
    'An operator acting as a user (RFC 8693 token exchange); its tokens work while the session is open and unexpired and the operator is still platform_admin.';
COMMENT ON COLUMN impersonation_sessions.tenant_id IS
    'The workspace the session concerns (the workspace form, or named by the operator); NULL: none named.';
COMMENT ON COLUMN impersonation_sessions.reason IS
    'Why the operator impersonates (required, shown to the tenant''s admins).';

CREATE INDEX impersonation_sessions_tenant_idx ON impersonation_sessions (tenant_id, started_at DESC);
CREATE INDEX impersonation_sessions_user_idx ON impersonation_sessions (user_id, started_at DESC);
CREATE INDEX impersonation_sessions_operator_idx ON impersonation_sessions (operator_user_id);

-- Attribution: what was done under impersonation names the operator as the actor (as
-- before) and, here, the user acted as and the session.
ALTER TABLE audit_events
    ADD COLUMN subject_user_id uuid NULL,
    ADD COLUMN subject_email text NULL,
    ADD COLUMN impersonation_session_id uuid NULL REFERENCES impersonation_sessions (id) ON DELETE RESTRICT;

COMMENT ON COLUMN audit_events.subject_user_id IS
    'Under impersonation: the user acted as (actor_user_id is then the operator). No foreign key, like actor_email: the trail outlives the user.';
COMMENT ON COLUMN audit_events.subject_email IS
    'Under impersonation: the email of the user acted as, at the time.';
COMMENT ON COLUMN audit_events.impersonation_session_id IS
    'Under impersonation: the session the change was made in.';

CREATE INDEX audit_events_impersonation_session_idx ON audit_events (impersonation_session_id)
    WHERE impersonation_session_id IS NOT NULL;

-- Whatever path changes `platform_admin` (the groups claim, an operator, SQL), live
-- impersonation sockets of that operator hear of it and re-check their session.
CREATE FUNCTION platform_api_notify_admin_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('platform_api_events', 'user:' || NEW.id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER users_platform_admin_changed
    AFTER UPDATE OF platform_admin ON users
    FOR EACH ROW WHEN (OLD.platform_admin IS DISTINCT FROM NEW.platform_admin)
    EXECUTE FUNCTION platform_api_notify_admin_change();
