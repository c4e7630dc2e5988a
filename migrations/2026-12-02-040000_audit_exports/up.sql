-- Audit log exports (issue 24): `exportAuditEvents` queues a job that writes the CSV into
-- chunks here; `GET /exports/<id>` streams the chunks back to the caller who asked, until
-- `expires_at`. Kept in the database (not under DATA_DIR) so that any replica can serve it.
CREATE TABLE audit_exports (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    requested_by uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope        jsonb       NOT NULL,
    filter       jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'queued',
    row_count    bigint      NULL,
    byte_count   bigint      NULL,
    truncated    boolean     NOT NULL DEFAULT false,
    error        text        NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT audit_exports_status_check
        CHECK (status IN ('queued', 'running', 'ready', 'failed'))
);

COMMENT ON TABLE audit_exports IS
    'An audit log export to CSV: who asked, with which scope and filter, and where it stands.';
COMMENT ON COLUMN audit_exports.scope IS
    'The requester''s audit scope when they asked (the rows the export may contain).';

CREATE INDEX audit_exports_expires_idx ON audit_exports (expires_at);
CREATE INDEX audit_exports_requested_by_idx ON audit_exports (requested_by);

CREATE TABLE audit_export_chunks (
    export_id uuid  NOT NULL REFERENCES audit_exports (id) ON DELETE CASCADE,
    seq       int   NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (export_id, seq)
);

COMMENT ON TABLE audit_export_chunks IS
    'The CSV of an export in order of `seq`, about 1 MiB each, streamed back one at a time.';
