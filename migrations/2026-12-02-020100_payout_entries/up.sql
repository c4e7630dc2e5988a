-- The billing ledger: one entry per paid invoice (revenue and the partner's cut), and one per
-- credit note or void that takes some of it back. Tenants without a partner have entries too
-- (margin 0), so platform figures and partner figures read the same rows. Expand only.
CREATE TABLE payout_entries (
    id                bigserial   PRIMARY KEY,
    source_id         text        NOT NULL UNIQUE,
    kind              text        NOT NULL,
    stripe_invoice_id text        NOT NULL,
    tenant_id         uuid        NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    partner_id        uuid        REFERENCES partners (id) ON DELETE RESTRICT,
    currency          text        NOT NULL,
    revenue_minor     bigint      NOT NULL,
    margin_bp         integer     NOT NULL,
    partner_cut_minor bigint      NOT NULL,
    occurred_at       timestamptz NOT NULL,
    stripe_event_id   text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT payout_entries_kind_valid
        CHECK (kind IN ('invoice_paid', 'credit_note', 'invoice_voided')),
    CONSTRAINT payout_entries_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payout_entries_margin_range CHECK (margin_bp BETWEEN 0 AND 10000)
);
CREATE INDEX payout_entries_partner_idx ON payout_entries (partner_id, occurred_at DESC, id DESC);
CREATE INDEX payout_entries_invoice_idx ON payout_entries (stripe_invoice_id);
CREATE INDEX payout_entries_occurred_idx ON payout_entries (occurred_at);
COMMENT ON TABLE payout_entries IS
    'Billing ledger: revenue and partner cut per paid invoice, credit note and void (signed).';
COMMENT ON COLUMN payout_entries.source_id IS
    'What the entry is for: in_… (paid), cn_… (credit note), void:in_… (void); once each.';
COMMENT ON COLUMN payout_entries.partner_cut_minor IS
    'The partner''s share: cut(invoice net after) − cut(invoice net before), cut(x) = x × margin_bp / 10000 rounded half away from zero.';
