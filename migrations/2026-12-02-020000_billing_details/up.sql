-- A tenant's billing details (company, VAT id, country, billing e-mail: only those), and the
-- id of its default card in Stripe (an id, never card data). Expand only.
CREATE TABLE billing_details (
    tenant_id  uuid        PRIMARY KEY REFERENCES tenants (id) ON DELETE RESTRICT,
    company    text,
    vat_id     text,
    country    text,
    email      text,
    updated_at timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT billing_details_company_length CHECK (char_length(company) BETWEEN 1 AND 200),
    CONSTRAINT billing_details_vat_id_format CHECK (vat_id ~ '^[A-Z]{2}[A-Z0-9+*]{2,14}$'),
    CONSTRAINT billing_details_country_format CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT billing_details_vat_needs_country CHECK (vat_id IS NULL OR country IS NOT NULL),
    CONSTRAINT billing_details_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
);
CREATE TRIGGER billing_details_set_updated_at
    BEFORE UPDATE ON billing_details
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON TABLE billing_details IS
    'What a tenant''s invoices are addressed to; pushed to its Stripe customer.';
COMMENT ON COLUMN billing_details.vat_id IS
    'Normalised (upper case, no separators, with the country prefix; EL for Greece).';

ALTER TABLE tenants ADD COLUMN stripe_payment_method_id text
    CONSTRAINT tenants_stripe_payment_method_id_format
        CHECK (stripe_payment_method_id ~ '^pm_[A-Za-z0-9_]{1,250}$');
COMMENT ON COLUMN tenants.stripe_payment_method_id IS
    'The default card of the Stripe customer (its pm_ id only; card details are read from Stripe).';
