// The frontends' path, end to end: the real server binary on loopback (embedded database),
// development tokens, and every example operation sent through the generated typed documents
// with real GraphQL clients (graphql-request over HTTP, graphql-ws for the subscription).
// Data is seeded through the API itself, by an operator.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import * as operator from '../generated/operator.ts';
import * as portal from '../generated/portal.ts';
import { Server } from './server.ts';

let server: Server;
let root: GraphQLClient; // operator console, platform admin
let alice: GraphQLClient; // portal: member of acme (through the groups claim)
let staff: GraphQLClient; // portal: admin staff of partner p-one
let aliceToken: string;

function client(token: string): GraphQLClient {
  return new GraphQLClient(server.url, { headers: { authorization: `Bearer ${token}` } });
}

/** The `extensions.code` of the first error of a refused request. */
async function errorCode(run: Promise<unknown>): Promise<string> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof ClientError, `a GraphQL error, not ${String(error)}`);
    return String(error.response.errors?.[0]?.extensions?.code);
  }
  assert.fail('the request was not refused');
}

before(async () => {
  server = await Server.start();
  const rootToken = server.token({ sub: 'root', aud: 'dezky-operator', email: 'root@example.com', groups: ['dezky-platform-admins'] });
  root = client(rootToken);
  aliceToken = server.token({ sub: 'alice', aud: 'dezky-portal', email: 'alice@example.com', name: 'Alice', groups: ['acme'] });
  alice = client(aliceToken);
  staff = client(server.token({ sub: 'pstaff', aud: 'dezky-portal', email: 'staff@p-one.example', name: 'Pat Staff' }));

  // Sign in: `me` applies the admin group.
  const signIn = await root.request(operator.SignInDocument);
  assert.deepEqual(signIn.me, { user: { email: 'root@example.com' }, audience: 'OPERATOR', operator: true, platformAdmin: true });

  // Seed through the API.
  const created = await root.request(operator.CreatePartnerDocument, {
    input: { slug: 'p-one', name: 'Partner One', marginPct: 12.5, contactInfo: { email: 'sales@p-one.example' } },
  });
  assert.equal(created.createPartner.partner.status, 'ACTIVE');
  // Plans come from the catalogue: the operator adds the one acme is on.
  const plan = await root.request(operator.UpsertPlanDocument, {
    input: { key: 'business', name: 'Business', seatsIncluded: 25, mailboxQuotaBytes: 10 * 2 ** 30, storageQuotaBytes: 100 * 2 ** 30 },
  });
  assert.equal(plan.upsertPlan.plan.key, 'business');
  await root.request(operator.CreateTenantDocument, {
    input: { slug: 'acme', name: 'Acme', plan: 'business', primaryDomain: 'acme.example', partner: 'p-one' },
  });
  await root.request(operator.CreateTenantDocument, { input: { slug: 'globex', name: 'Globex' } });

  // Partner staff rows have no mutation yet: the one row the API cannot write.
  await staff.request(portal.MeDocument);
  server.sql(
    `INSERT INTO partner_staff (user_id, partner_id, access_level)
     SELECT u.id, p.id, 'admin' FROM users u, partners p
     WHERE u.authentik_subject = 'pstaff' AND p.slug = 'p-one'`,
  );

  // Each new tenant is provisioned by the server's workers (no upstream is configured here,
  // so every step ends SKIPPED); follow both runs to their end over graphql-ws.
  for (const slug of ['acme', 'globex']) {
    await followProvisioning(rootToken, slug);
  }
});

after(async () => {
  await server?.stop();
});

describe('operator console', () => {
  test('partners list', async () => {
    const data = await root.request(operator.PartnersListDocument, { first: 10 });
    assert.equal(data.partners.totalCount, 1);
    assert.equal(data.partners.pageInfo.hasNextPage, false);
    const [p] = data.partners.nodes;
    assert.deepEqual(
      { slug: p.slug, name: p.name, status: p.status, marginPct: p.marginPct, customerCount: p.customerCount, mrr: p.mrr },
      { slug: 'p-one', name: 'Partner One', status: 'ACTIVE', marginPct: 12.5, customerCount: 1, mrr: [] },
    );
    assert.equal(typeof p.id, 'string');
    assert.ok(!Number.isNaN(Date.parse(p.createdAt)), 'DateTime is an RFC 3339 string');
  });

  test('tenants list and a filter', async () => {
    const all = await root.request(operator.TenantsListDocument, {});
    assert.deepEqual(
      all.tenants.nodes.map((t) => [t.slug, t.status, t.plan.key, t.partner?.slug ?? null]),
      [
        ['acme', 'ACTIVE', 'business', 'p-one'],
        ['globex', 'ACTIVE', 'standard', null],
      ],
    );
    const direct = await root.request(operator.TenantsListDocument, { filter: { search: 'glob' } });
    assert.deepEqual(direct.tenants.nodes.map((t) => t.slug), ['globex']);
  });

  test('system status', async () => {
    const data = await root.request(operator.SystemStatusDocument);
    assert.equal(data.systemStatus.environment, 'development');
    assert.equal(data.systemStatus.developmentIssuer, true);
    assert.match(data.systemStatus.schemaVersion ?? '', /^\d{14}$/);
  });

  test('audit log page', async () => {
    const data = await root.request(operator.AuditLogPageDocument, { filter: { action: 'partner.create' } });
    assert.equal(data.auditEvents.totalCount, 1);
    const event = data.auditEvents.edges[0].node;
    assert.equal(event.outcome, 'SUCCESS');
    assert.equal(event.actorEmail, 'root@example.com');
    assert.equal(event.partnerSlug, 'p-one');
    assert.equal(event.ip, '127.0.0.1');
  });
});

describe('customer portal', () => {
  test('me: the groups claim made alice a member of acme', async () => {
    const data = await alice.request(portal.MeDocument);
    assert.equal(data.me.audience, 'PORTAL');
    assert.equal(data.me.operator, false);
    assert.equal(data.me.user.email, 'alice@example.com');
    assert.deepEqual(data.me.memberships, [{ tenantSlug: 'acme', role: 'MEMBER', status: 'ACTIVE' }]);
    assert.deepEqual(data.me.partnerRoles, []);
  });

  test('tenant dashboard: a member without billing, partner staff with it', async () => {
    const { tenant } = await alice.request(portal.TenantDashboardDocument, { slug: 'acme', withBilling: false });
    // `tenant(slug:)` is nullable (null + NOT_FOUND for a slug the caller may not see).
    assert.ok(tenant, 'acme is visible to its member');
    assert.equal(tenant.name, 'Acme');
    assert.equal(tenant.status, 'ACTIVE');
    assert.equal(tenant.plan.key, 'business');
    assert.equal(tenant.primaryDomain, 'acme.example');
    assert.deepEqual(tenant.partner, { slug: 'p-one', name: 'Partner One' });
    assert.equal(tenant.subscription, undefined, 'not asked for');
    // The one flag a migration creates: billing's gate, on by default.
    assert.deepEqual(tenant.featureFlags, [{ key: 'new_billing_engine', value: true }]);
    assert.equal(tenant.members.totalCount, 1);
    assert.deepEqual(tenant.members.nodes[0], {
      id: tenant.members.nodes[0].id,
      role: 'MEMBER',
      status: 'ACTIVE',
      user: { email: 'alice@example.com', name: 'Alice' },
    });
    // Billing is refused to a member; another tenant answers NOT_FOUND, like one that does not exist.
    assert.equal(await errorCode(alice.request(portal.TenantDashboardDocument, { slug: 'acme', withBilling: true })), 'FORBIDDEN');
    assert.equal(await errorCode(alice.request(portal.TenantDashboardDocument, { slug: 'globex', withBilling: false })), 'NOT_FOUND');

    const forStaff = await staff.request(portal.TenantDashboardDocument, { slug: 'acme', withBilling: true });
    assert.ok(forStaff.tenant);
    assert.equal(forStaff.tenant.subscription, null, 'no subscription yet');
    assert.equal(forStaff.tenant.members.totalCount, 1);
  });

  test('billing pages without Stripe: the tenant (partner staff), the partner, the operator overview', async () => {
    const period = { from: '2026-01-01T00:00:00Z', to: '2026-12-31T00:00:00Z' };
    assert.equal(await errorCode(alice.request(portal.TenantBillingDocument, { slug: 'acme' })), 'FORBIDDEN');
    const page = await staff.request(portal.TenantBillingDocument, { slug: 'acme' });
    assert.ok(page.tenant);
    assert.equal(page.tenant.billingConfigured, false, 'no Stripe keys here');
    assert.equal(page.tenant.paymentMethod, null);
    assert.equal(page.tenant.billingDetails, null);
    assert.equal(page.tenant.invoices.totalCount, 0);
    assert.equal(
      await errorCode(staff.request(portal.StartPaymentMethodSetupDocument, { tenant: 'acme' })),
      'CONFLICT',
      'billing is not configured',
    );

    const partner = await staff.request(portal.PartnerBillingDocument, { partner: 'p-one', period });
    assert.ok(partner.partner);
    assert.equal(partner.partner.billingConfigured, false);
    assert.deepEqual(partner.partner.billingSummary, {
      configured: false, revenue: [], partnerCut: [], net: [], openInvoices: [],
    });
    assert.equal(partner.partner.payouts.totalCount, 0);

    const overview = await root.request(operator.BillingOverviewDocument, { period });
    assert.equal(overview.platformBillingSummary.configured, false);
    assert.deepEqual(overview.partners.nodes.map((p) => [p.slug, p.billingSummary.revenue]), [['p-one', []]]);
  });

  test('partner staff: partners list and their customers', async () => {
    const partners = await staff.request(portal.MyPartnersDocument);
    assert.deepEqual(
      partners.partners.nodes.map((p) => [p.slug, p.customerCount, p.mrr]),
      [['p-one', 1, []]],
    );
    const tenants = await staff.request(portal.PartnerTenantsDocument, { partner: 'p-one' });
    assert.deepEqual(tenants.tenants.nodes.map((t) => t.slug), ['acme']);
    assert.equal(tenants.tenants.totalCount, 1);
  });

  test('partner staff suspend and resume; a member may not rename', async () => {
    const suspended = await staff.request(portal.SuspendTenantDocument, { tenant: 'acme', reason: 'unpaid' });
    assert.equal(suspended.suspendTenant.tenant.status, 'SUSPENDED');
    const resumed = await staff.request(portal.ResumeTenantDocument, { tenant: 'acme' });
    assert.equal(resumed.resumeTenant.tenant.status, 'ACTIVE');
    assert.equal(await errorCode(alice.request(portal.RenameTenantDocument, { tenant: 'acme', name: 'Acme Inc' })), 'FORBIDDEN');
    const renamed = await staff.request(portal.RenameTenantDocument, { tenant: 'acme', name: 'Acme Inc' });
    assert.equal(renamed.updateTenant.tenant.name, 'Acme Inc');
  });

  test('audit log page: partner staff see their tenant, members nothing', async () => {
    const page = await staff.request(portal.AuditLogPageDocument, { filter: { tenant: 'acme' }, first: 2 });
    assert.ok(page.auditEvents.totalCount >= 4, `create, suspend, resume, update, denied rename: ${page.auditEvents.totalCount}`);
    assert.equal(page.auditEvents.edges.length, 2);
    assert.equal(page.auditEvents.pageInfo.hasNextPage, true);
    const next = await staff.request(portal.AuditLogPageDocument, {
      filter: { tenant: 'acme' },
      first: 100,
      after: page.auditEvents.pageInfo.endCursor,
    });
    const actions = [...page.auditEvents.edges, ...next.auditEvents.edges].map((e) => `${e.node.action}:${e.node.outcome}`);
    assert.equal(actions.length, page.auditEvents.totalCount, 'the pages cover the list once');
    for (const expected of ['tenant.create:SUCCESS', 'tenant.suspend:SUCCESS', 'tenant.resume:SUCCESS', 'tenant.update:DENIED', 'tenant.update:SUCCESS']) {
      assert.ok(actions.includes(expected), `${expected} in ${actions.join(', ')}`);
    }
    const nothing = await alice.request(portal.AuditLogPageDocument, {});
    assert.equal(nothing.auditEvents.totalCount, 0);
  });

  test('operator-only operations are refused with a portal token', async () => {
    assert.equal(await errorCode(alice.request(operator.SystemStatusDocument)), 'FORBIDDEN');
    assert.equal(await errorCode(staff.request(operator.FeatureFlagsDocument, {})), 'FORBIDDEN');
    assert.equal(
      await errorCode(staff.request(operator.CreatePartnerDocument, { input: { slug: 'p-two', name: 'Two' } })),
      'FORBIDDEN',
    );
    assert.equal(await errorCode(staff.request(operator.MoveTenantDocument, { tenant: 'acme', partner: null })), 'FORBIDDEN');
  });

  test('provisioningProgress over graphql-ws replays a finished run and completes', async () => {
    const events = await followProvisioning(aliceToken, 'acme');
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
      'sequence numbers 1..n, no gap, no duplicate',
    );
    const last = events[events.length - 1];
    assert.deepEqual([last.step, last.status, last.terminal], [null, 'OK', true]);
    const skipped = events.filter((e) => e.status === 'SKIPPED').map((e) => e.step).sort();
    assert.deepEqual(skipped, ['AUTHENTIK_GROUP', 'OCIS_SPACE', 'STALWART_DOMAIN', 'STRIPE_CUSTOMER']);
    assert.ok(!Number.isNaN(Date.parse(last.at)), 'DateTime is an RFC 3339 string');
    // Resuming after the last event of a finished run sends nothing and completes.
    assert.deepEqual(await followProvisioning(aliceToken, 'acme', last.seq), []);
    // Another tenant is NOT_FOUND for alice, like one that does not exist.
    await assert.rejects(followProvisioning(aliceToken, 'globex'), /NOT_FOUND/);
  });

  test('featureFlagsChanged over graphql-ws follows an operator change', async () => {
    const ws = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${aliceToken}` },
      retryAttempts: 0,
    });
    try {
      const stream = subscribe(ws, portal.FeatureFlagsChangedDocument, { tenantSlug: 'acme' });
      const first = await stream.next();
      assert.deepEqual(
        first.value?.featureFlagsChanged,
        [{ key: 'new_billing_engine', value: true }],
        'the current values at once',
      );

      const flag = await root.request(operator.CreateFeatureFlagDocument, {
        input: { key: 'new_billing', defaultValue: false, rules: [{ tenants: ['acme'], value: true }] },
      });
      assert.equal(flag.createFeatureFlag.featureFlag.rules[0].matchedTenants, 1);

      const changed = await stream.next();
      assert.deepEqual(changed.value?.featureFlagsChanged, [
        { key: 'new_billing', value: true },
        { key: 'new_billing_engine', value: true },
      ]);
      await stream.return?.(undefined);

      const flags = await root.request(operator.FeatureFlagsDocument, {});
      assert.deepEqual(
        flags.featureFlags.nodes.map((f) => [f.key, f.enabled, f.rules.map((r) => [r.kind, r.value, r.matchedTenants])]),
        [
          ['new_billing', true, [['TENANTS', true, 1]]],
          ['new_billing_engine', true, []],
        ],
      );
    } finally {
      await ws.dispose();
    }
  });
});

/** Every provisioning event of `slug` after `afterSeq`, until the stream completes. */
async function followProvisioning(token: string, slug: string, afterSeq = 0) {
  const ws = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    const events = [];
    for await (const data of subscribe(ws, portal.ProvisioningProgressDocument, { tenantSlug: slug, afterSeq })) {
      events.push(data.provisioningProgress);
    }
    return events;
  } finally {
    await ws.dispose();
  }
}

/** A typed subscription: each value is the operation's data; errors reject. */
async function* subscribe<R, V extends Record<string, unknown>>(
  ws: ReturnType<typeof createClient>,
  document: TypedDocumentNode<R, V>,
  variables: V,
): AsyncGenerator<R, void, undefined> {
  for await (const result of ws.iterate<R>({ query: print(document), variables })) {
    if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
    yield result.data as R;
  }
}

describe('self-service and branding', () => {
  test('create a workspace, then brand it and preview its welcome email', async () => {
    const bob = client(server.token({ sub: 'bob', aud: 'dezky-portal', email: 'bob@example.com', name: 'Bob' }));
    const created = await bob.request(portal.CreateWorkspaceDocument, { input: { slug: 'bob-co', name: 'Bob & Co' } });
    assert.deepEqual(
      { slug: created.createWorkspace.tenant.slug, plan: created.createWorkspace.tenant.plan.key },
      { slug: 'bob-co', plan: 'standard' },
    );
    const saved = await bob.request(portal.UpdateBrandingDocument, { input: { tenant: 'bob-co', accentColor: '#FFFF00' } });
    assert.equal(saved.updateBranding.branding.readableTextColor, '#000000');
    const page = await bob.request(portal.TenantBrandingPageDocument, { slug: 'bob-co' });
    assert.equal(page.tenant?.effectiveBranding.accentColor.source, 'TENANT');
    assert.equal(page.tenant?.effectiveBranding.productName.source, 'DEFAULT');
    const preview = await bob.request(portal.PreviewEmailTemplateDocument, {
      input: { key: 'WELCOME', tenant: 'bob-co', sample: { recipient_name: '<b>Bob</b>' } },
    });
    assert.ok(preview.previewEmailTemplate.body.includes('&lt;b&gt;Bob&lt;&#x2f;b&gt;'), preview.previewEmailTemplate.body);
    assert.equal(await errorCode(bob.request(portal.CreateWorkspaceDocument, { input: { slug: 'acme', name: 'Taken' } })), 'CONFLICT');
  });
});
