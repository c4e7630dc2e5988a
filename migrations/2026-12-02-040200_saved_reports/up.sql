-- Saved reports (issue 24): a named partner report with its kind and parameters.
CREATE TABLE saved_reports (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id  uuid        NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    kind        text        NOT NULL,
    parameters  jsonb       NOT NULL DEFAULT '{}',
    created_by  uuid        NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT saved_reports_kind_check
        CHECK (kind IN ('health_cohorts', 'revenue_by_plan', 'top_customers', 'signup_cohorts', 'churn_cohorts')),
    CONSTRAINT saved_reports_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT saved_reports_parameters_object CHECK (jsonb_typeof(parameters) = 'object'),
    CONSTRAINT saved_reports_partner_name_key UNIQUE (partner_id, name)
);

COMMENT ON TABLE saved_reports IS 'Named partner reports: a kind and its parameters (period, limits).';
