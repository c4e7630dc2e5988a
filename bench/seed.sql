-- The benchmark data set, deterministic (no random()): ids are md5 of a name, so every run
-- and every machine gets the same rows. Run by bench/run.sh after `platform-api migrate` on
-- an empty database. bench/driver/src/graph.rs relies on this layout:
--   partners  1..100     slug partner-001, ...
--   tenants   1..10000   slug tenant-00001, ...; tenant t belongs to partner 1 + (t-1)/100,
--                        except every tenth (t % 10 = 0), a direct customer
--   users     1..100000  subject bench-user-<u>, email user<u>@bench.example; user u is a
--                        member of tenant 1 + (u-1) % 10000 (10 per tenant): owners 1..10000,
--                        admins 10001..20000, members after that; users 1..64 are platform
--                        admins; users 90001..90500 are partner staff (5 per partner, the
--                        first an admin)
--   one subscription per tenant; 1,000,000 audit events spread over every tenant, one every
--   20 s from 2024-06-01 (newest around 2025-01-16)
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';
SET synchronous_commit = off;

BEGIN;

INSERT INTO partners (id, slug, name, domain, status, margin_pct, contact_info, billing_info, created_at, updated_at)
SELECT md5('partner-' || p)::uuid,
       'partner-' || lpad(p::text, 3, '0'),
       'Partner ' || p,
       'partner' || p || '.example',
       'active',
       (p % 30)::numeric,
       jsonb_build_object('email', 'sales@partner' || p || '.example'),
       jsonb_build_object('vat', 'EU' || lpad(p::text, 9, '0')),
       timestamptz '2023-01-01' + p * interval '1 day',
       timestamptz '2023-01-01' + p * interval '1 day'
  FROM generate_series(1, 100) AS p;

-- The plans the tenants are on (`standard` comes with the migrations).
INSERT INTO plans (key, name)
VALUES ('standard', 'Standard'), ('business', 'Business'), ('enterprise', 'Enterprise')
ON CONFLICT (key) DO NOTHING;

INSERT INTO tenants (id, slug, name, status, plan, partner_id, primary_domain, created_at, updated_at)
SELECT md5('tenant-' || t)::uuid,
       'tenant-' || lpad(t::text, 5, '0'),
       'Tenant ' || t,
       'active',
       (ARRAY['standard', 'business', 'enterprise'])[1 + t % 3],
       CASE WHEN t % 10 = 0 THEN NULL ELSE md5('partner-' || (1 + (t - 1) / 100))::uuid END,
       'tenant' || t || '.example',
       timestamptz '2024-01-01' + t * interval '10 minutes',
       timestamptz '2024-01-01' + t * interval '10 minutes'
  FROM generate_series(1, 10000) AS t;

INSERT INTO users (id, authentik_subject, email, name, platform_admin, created_at, updated_at)
SELECT md5('user-' || u)::uuid,
       'bench-user-' || u,
       'user' || u || '@bench.example',
       'User ' || u,
       u <= 64,
       timestamptz '2024-01-01' + u * interval '1 minute',
       timestamptz '2024-01-01' + u * interval '1 minute'
  FROM generate_series(1, 100000) AS u;

INSERT INTO memberships (id, user_id, tenant_id, role, status, created_at, updated_at)
SELECT md5('membership-' || u)::uuid,
       md5('user-' || u)::uuid,
       md5('tenant-' || (1 + (u - 1) % 10000))::uuid,
       CASE WHEN u <= 10000 THEN 'owner' WHEN u <= 20000 THEN 'admin' ELSE 'member' END,
       'active',
       timestamptz '2024-01-01' + u * interval '1 minute',
       timestamptz '2024-01-01' + u * interval '1 minute'
  FROM generate_series(1, 100000) AS u;

INSERT INTO partner_staff (user_id, partner_id, access_level)
SELECT md5('user-' || (90000 + (p - 1) * 5 + k + 1))::uuid,
       md5('partner-' || p)::uuid,
       CASE WHEN k = 0 THEN 'admin' ELSE 'member' END
  FROM generate_series(1, 100) AS p, generate_series(0, 4) AS k;

INSERT INTO subscriptions (id, tenant_id, plan, status, seats, price_minor, currency, billing_cycle,
                           stripe_customer_id, stripe_subscription_id, current_period_end)
SELECT md5('subscription-' || t)::uuid,
       md5('tenant-' || t)::uuid,
       (ARRAY['standard', 'business', 'enterprise'])[1 + t % 3],
       CASE WHEN t % 50 = 0 THEN 'past_due' ELSE 'active' END,
       10,
       (1 + t % 3) * 1000,
       CASE WHEN t % 7 = 0 THEN 'USD' ELSE 'EUR' END,
       CASE WHEN t % 4 = 0 THEN 'yearly' ELSE 'monthly' END,
       'cus_bench' || t,
       'sub_bench' || t,
       timestamptz '2025-02-01' + (t % 28) * interval '1 day'
  FROM generate_series(1, 10000) AS t;

-- 1,000,000 audit events: loaded with the table's indexes dropped, then rebuilt (much
-- faster than maintaining ten indexes, a trigram GIN among them, row by row). The index
-- definitions are read from the catalogue, so new migrations' indexes are kept.
CREATE TEMP TABLE bench_audit_indexes AS
SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
  FROM pg_index
 WHERE indrelid = 'audit_events'::regclass AND NOT indisprimary;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT name FROM bench_audit_indexes LOOP
        EXECUTE 'DROP INDEX ' || r.name;
    END LOOP;
END $$;

INSERT INTO audit_events (tenant_id, partner_id, actor_user_id, actor_email, action, target_type,
                          target_id, outcome, details, request_id, ip, at)
SELECT md5('tenant-' || t)::uuid,
       CASE WHEN t % 10 = 0 THEN NULL ELSE md5('partner-' || (1 + (t - 1) / 100))::uuid END,
       md5('user-' || t)::uuid,
       'user' || t || '@bench.example',
       (ARRAY['tenant.update', 'member.add', 'member.role_change', 'domain.verify',
              'billing.invoice_paid'])[1 + n % 5],
       'tenant',
       md5('tenant-' || t)::uuid::text,
       CASE n % 50 WHEN 0 THEN 'denied' WHEN 1 THEN 'failure' ELSE 'success' END,
       jsonb_build_object('seq', n),
       'bench-' || n,
       '10.0.' || (n % 250) || '.' || (n % 200),
       timestamptz '2024-06-01' + n * interval '20 seconds'
  FROM generate_series(1, 1000000) AS n, LATERAL (SELECT 1 + n % 10000 AS t) AS x;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT def FROM bench_audit_indexes LOOP
        EXECUTE r.def;
    END LOOP;
END $$;

CREATE TABLE bench_seed (version text NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_seed (version) VALUES (:'seed_version');

COMMIT;

VACUUM ANALYZE;
