-- Operator overrides of failing domain records (issue 16): a record accepted as it is, with a
-- reason, for a known resolver quirk; it counts as OK while the published value stays the one
-- that was accepted.
CREATE TABLE domain_record_overrides (
    domain_id  uuid        NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    name       text        NOT NULL,
    actual     text        NULL,
    reason     text        NOT NULL,
    by_email   text        NULL,
    created_at timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (domain_id, kind, name),
    CONSTRAINT domain_record_overrides_kind_valid
        CHECK (kind IN ('mx', 'spf', 'dkim', 'dmarc', 'ownership')),
    CONSTRAINT domain_record_overrides_reason_length
        CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500)
);

COMMENT ON TABLE domain_record_overrides IS
    'Failing domain records an operator accepted; each applies while the record''s actual value equals `actual`.';
COMMENT ON COLUMN domain_record_overrides.actual IS
    'The value accepted (TXT strings joined; several answers one per line); NULL: accepted as missing.';
COMMENT ON COLUMN domain_record_overrides.by_email IS
    'The operator who accepted it.';
