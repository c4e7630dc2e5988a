-- Tenant health (issue 24), the rule "MFA coverage against the policy": the last answer
-- Authentik gave the server about a user's second factor. Written by every successful
-- `Tenant.mfaStatus` read (one upsert for all its members) and by the `mfa_snapshot` job,
-- which refreshes rows older than `MFA_SNAPSHOT_INTERVAL_SECS`. No row: not known yet
-- (the health rule then leaves the user out). A table of its own rather than columns on
-- `users`: it is rewritten on every refresh, and those writes never touch (or lock) the
-- user rows member operations update.
CREATE TABLE mfa_enrollments (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    enrolled   boolean     NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE mfa_enrollments IS
    'Whether Authentik last said the user has a second factor, and when the server asked.';
COMMENT ON COLUMN mfa_enrollments.enrolled IS
    'At least one authenticator device of any type in Authentik.';
COMMENT ON COLUMN mfa_enrollments.checked_at IS
    'When Authentik was asked (the job refreshes rows older than MFA_SNAPSHOT_INTERVAL_SECS).';

-- The refresh job looks for the oldest snapshots.
CREATE INDEX mfa_enrollments_checked_at_idx ON mfa_enrollments (checked_at);
