-- Performance (issue 20): a partner's tenant and customer counts kept as tenants change,
-- instead of counted per request (the partners list's `customerCount` read every tenant of
-- the page's partners). Triggers on `tenants` keep one row per partner in the transaction of
-- the change; a customer is a tenant that is not terminated (`TenantStatus::Terminated`; a
-- test compares the two).

CREATE TABLE partner_tenant_counts (
    partner_id uuid   PRIMARY KEY REFERENCES partners (id) ON DELETE CASCADE,
    tenants    bigint NOT NULL,
    customers  bigint NOT NULL,
    CONSTRAINT partner_tenant_counts_valid CHECK (customers >= 0 AND customers <= tenants)
);
COMMENT ON TABLE partner_tenant_counts IS
    'How many tenants each partner has, kept by triggers on tenants (never written by the application). A partner with no row has none.';
COMMENT ON COLUMN partner_tenant_counts.tenants IS 'Tenants of the partner, any status.';
COMMENT ON COLUMN partner_tenant_counts.customers IS 'Tenants of the partner that are not terminated.';

CREATE FUNCTION tenants_keep_partner_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.partner_id IS NOT NULL THEN
        UPDATE partner_tenant_counts
           SET tenants = tenants - 1,
               customers = customers - CASE WHEN OLD.status = 'terminated' THEN 0 ELSE 1 END
         WHERE partner_id = OLD.partner_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'partner_tenant_counts is out of step with tenants (partner %)', OLD.partner_id;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.partner_id IS NOT NULL THEN
        INSERT INTO partner_tenant_counts AS c (partner_id, tenants, customers)
        VALUES (NEW.partner_id, 1, CASE WHEN NEW.status = 'terminated' THEN 0 ELSE 1 END)
        ON CONFLICT (partner_id) DO UPDATE
            SET tenants = c.tenants + 1, customers = c.customers + EXCLUDED.customers;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_partner_counts_insert_delete
    AFTER INSERT OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_keep_partner_counts();
-- Only a change of partner, or into or out of `terminated`: provisioning's status changes
-- (pending → active) touch nothing.
CREATE TRIGGER tenants_partner_counts_update
    AFTER UPDATE OF partner_id, status ON tenants
    FOR EACH ROW
    WHEN (OLD.partner_id IS DISTINCT FROM NEW.partner_id
          OR (OLD.status = 'terminated') <> (NEW.status = 'terminated'))
    EXECUTE FUNCTION tenants_keep_partner_counts();

-- The tenants so far (the triggers above already hold the table against writes).
INSERT INTO partner_tenant_counts (partner_id, tenants, customers)
SELECT partner_id, count(*), count(*) FILTER (WHERE status <> 'terminated')
  FROM tenants
 WHERE partner_id IS NOT NULL
 GROUP BY partner_id;
