-- Durable work: a job queue written in the same transaction as the change that needs it
-- (outbox), and per-tenant provisioning state with an append-only event log.

CREATE TABLE jobs (
    id           bigserial   PRIMARY KEY,
    -- What to do, e.g. `provisioning_step`; `payload` says with what.
    kind         text        NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}',
    -- At most one live (queued or running) job per key: re-enqueueing is a no-op.
    dedupe_key   text        NULL,
    status       text        NOT NULL DEFAULT 'queued',
    attempts     integer     NOT NULL DEFAULT 0,
    max_attempts integer     NOT NULL,
    -- Not before: the backoff of a failed attempt moves it forward.
    run_at       timestamptz NOT NULL DEFAULT now(),
    -- The worker holding the lease, and until when; an expired lease may be claimed again.
    locked_by    text        NULL,
    locked_until timestamptz NULL,
    last_error   text        NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT jobs_status_valid CHECK (status IN ('queued', 'running', 'done', 'dead')),
    CONSTRAINT jobs_attempts_valid CHECK (attempts >= 0 AND max_attempts >= 1),
    CONSTRAINT jobs_lease_iff_running
        CHECK ((status = 'running') = (locked_until IS NOT NULL AND locked_by IS NOT NULL))
);

CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';
CREATE UNIQUE INDEX jobs_live_dedupe_key ON jobs (dedupe_key)
    WHERE status IN ('queued', 'running');

CREATE TABLE provisioning_steps (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    step        text        NOT NULL,
    status      text        NOT NULL DEFAULT 'pending',
    -- Attempts of the current run (reset by a retry or a reconcile).
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text        NULL,
    -- The upstream object's id once it exists (group pk, domain id, drive id, customer id).
    upstream_id text        NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (tenant_id, step),
    CONSTRAINT provisioning_steps_step_valid
        CHECK (step IN ('authentik_group', 'stalwart_domain', 'ocis_space', 'stripe_customer')),
    CONSTRAINT provisioning_steps_status_valid
        CHECK (status IN ('pending', 'running', 'ok', 'skipped', 'error'))
);

CREATE TABLE provisioning_events (
    id        bigserial   PRIMARY KEY,
    tenant_id uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- 1, 2, 3… per tenant, in commit order (appended under the tenant row's lock).
    seq       integer     NOT NULL,
    -- NULL for the tenant as a whole (the end of a run).
    step      text        NULL,
    status    text        NOT NULL,
    message   text        NULL,
    -- The last event of a run: no step is pending or running any more.
    terminal  boolean     NOT NULL DEFAULT false,
    at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT provisioning_events_seq_key UNIQUE (tenant_id, seq),
    CONSTRAINT provisioning_events_seq_positive CHECK (seq > 0),
    CONSTRAINT provisioning_events_status_valid
        CHECK (status IN ('pending', 'running', 'ok', 'skipped', 'error'))
);
