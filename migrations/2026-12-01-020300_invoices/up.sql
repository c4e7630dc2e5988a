-- Invoices of tenants, mirrored from Stripe (invoice.* webhook events, and Stripe's list when
-- provisioning runs again). A new table: expand only.
CREATE TABLE invoices (
    stripe_invoice_id  text        PRIMARY KEY,
    tenant_id          uuid        NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    number             text,
    status             text        NOT NULL,
    currency           text        NOT NULL,
    total_minor        bigint      NOT NULL,
    amount_due_minor   bigint      NOT NULL,
    amount_paid_minor  bigint      NOT NULL DEFAULT 0,
    period_start       timestamptz,
    period_end         timestamptz,
    due_date           timestamptz,
    hosted_invoice_url text,
    invoice_pdf_url    text,
    stripe_created     timestamptz NOT NULL,
    stripe_synced_at   timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT invoices_stripe_invoice_id_format CHECK (stripe_invoice_id ~ '^in_[A-Za-z0-9_]{1,250}$'),
    CONSTRAINT invoices_status_valid
        CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
    CONSTRAINT invoices_currency_format CHECK (currency ~ '^[A-Z]{3}$')
);
CREATE INDEX invoices_tenant_created_idx
    ON invoices (tenant_id, stripe_created DESC, stripe_invoice_id DESC);
CREATE TRIGGER invoices_set_updated_at
    BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON TABLE invoices IS 'Stripe invoices of tenants, mirrored (webhook events, backfill).';
COMMENT ON COLUMN invoices.total_minor IS 'Total, in the currency''s minor units (may be negative for a credit).';
COMMENT ON COLUMN invoices.stripe_created IS 'Stripe''s creation time: the order of Tenant.invoices.';
COMMENT ON COLUMN invoices.stripe_synced_at IS
    'When the state stored was Stripe''s (event time or read time); older states never overwrite it.';
