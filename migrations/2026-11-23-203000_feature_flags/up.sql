-- Feature flags: a default value, an on/off switch, an archive mark, and ordered rules
-- (replaced as a whole on update). Evaluation happens in the application (one statement
-- loads every live flag).
CREATE TABLE feature_flags (
    key           text        PRIMARY KEY,
    description   text        NOT NULL DEFAULT '',
    default_value boolean     NOT NULL DEFAULT false,
    enabled       boolean     NOT NULL DEFAULT true,
    rules         jsonb       NOT NULL DEFAULT '[]',
    archived_at   timestamptz NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT feature_flags_key_format CHECK (key ~ '^[a-z][a-z0-9_]{1,63}$'),
    CONSTRAINT feature_flags_description_length CHECK (char_length(description) <= 500),
    CONSTRAINT feature_flags_rules_array CHECK (jsonb_typeof(rules) = 'array')
);
COMMENT ON TABLE feature_flags IS 'Feature flags evaluated per tenant; archived flags are kept but never evaluated.';
COMMENT ON COLUMN feature_flags.rules IS 'Ordered rules (first match wins): tenants, partner, plans, percentage. Replaced as a whole.';
COMMENT ON COLUMN feature_flags.enabled IS 'Off switch: a disabled flag ignores its rules and evaluates to its default.';
CREATE INDEX feature_flags_live_idx ON feature_flags (key) WHERE archived_at IS NULL;
CREATE TRIGGER feature_flags_set_updated_at BEFORE UPDATE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
