-- Members (issue 17): the upstream handles of a person and of a membership, the member's
-- status while it is provisioned, per-member step state and progress events, and the sealed
-- one-time password a job carries until the steps that need it succeeded.

-- A member created by `createMember` has a user row before its first sign-in: no subject yet.
-- Its first sign-in (a token whose email matches) claims the row instead of creating another.
ALTER TABLE users ALTER COLUMN authentik_subject DROP NOT NULL;
ALTER TABLE users ADD COLUMN authentik_user_pk bigint NULL;
ALTER TABLE users ADD COLUMN ocis_user_id text NULL;
ALTER TABLE users ADD CONSTRAINT users_authentik_user_pk_key UNIQUE (authentik_user_pk);
CREATE INDEX users_unclaimed_email_idx ON users (lower(email)) WHERE authentik_subject IS NULL;
COMMENT ON COLUMN users.authentik_user_pk IS 'Authentik user pk (the OIDC sub is a per-provider hash, not this).';
COMMENT ON COLUMN users.ocis_user_id IS 'oCIS user id (one per person, whatever their tenants).';

-- The mailbox is per membership (an address on the tenant's domain).
ALTER TABLE memberships ADD COLUMN stalwart_account_id text NULL;
ALTER TABLE memberships ADD COLUMN operation text NULL;
ALTER TABLE memberships DROP CONSTRAINT memberships_status_valid;
ALTER TABLE memberships ADD CONSTRAINT memberships_status_valid
    CHECK (status IN ('provisioning', 'active', 'suspended', 'error'));
ALTER TABLE memberships ADD CONSTRAINT memberships_operation_valid
    CHECK (operation IN ('create', 'suspend', 'resume', 'reset_password', 'remove'));
COMMENT ON COLUMN memberships.operation IS 'The member operation whose steps are current (member_steps).';

CREATE TABLE member_steps (
    membership_id uuid        NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    step          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text        NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (membership_id, step),
    CONSTRAINT member_steps_step_valid CHECK (step IN ('authentik', 'stalwart', 'ocis')),
    CONSTRAINT member_steps_status_valid
        CHECK (status IN ('pending', 'running', 'ok', 'skipped', 'error'))
);

-- No foreign key to memberships: the events of a removal outlive the membership.
CREATE TABLE member_events (
    id            bigserial   PRIMARY KEY,
    membership_id uuid        NOT NULL,
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq           integer     NOT NULL,
    operation     text        NOT NULL,
    step          text        NULL,
    status        text        NOT NULL,
    message       text        NULL,
    terminal      boolean     NOT NULL DEFAULT false,
    at            timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT member_events_seq_key UNIQUE (membership_id, seq),
    CONSTRAINT member_events_step_valid CHECK (step IN ('authentik', 'stalwart', 'ocis')),
    CONSTRAINT member_events_status_valid
        CHECK (status IN ('pending', 'running', 'ok', 'skipped', 'error'))
);

-- AES-256-GCM (nonce || ciphertext || tag) of a one-time password, deleted when the steps
-- that need it succeeded. Never plain text.
CREATE TABLE member_secrets (
    membership_id uuid        PRIMARY KEY REFERENCES memberships (id) ON DELETE CASCADE,
    sealed        bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
