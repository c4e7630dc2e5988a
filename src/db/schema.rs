// @generated automatically by Diesel CLI.

diesel::table! {
    /// Append-only audit log (UPDATE/DELETE rejected by trigger). details must never contain secrets.
    audit_events (id) {
        /// Monotonic identity; tie-breaker for ordering by at.
        id -> Int8,
        /// Tenant the event concerns, if any. ON DELETE RESTRICT keeps the trail intact.
        tenant_id -> Nullable<Uuid>,
        /// Partner the event concerns, if any. ON DELETE RESTRICT keeps the trail intact.
        partner_id -> Nullable<Uuid>,
        /// Acting user; set NULL if the user is deleted (actor_email keeps who it was). NULL also for system actions.
        actor_user_id -> Nullable<Uuid>,
        /// Actor's email at the time of the event, kept even if the user is deleted.
        actor_email -> Nullable<Text>,
        /// Dotted action name, e.g. tenant.create or membership.role_change.
        action -> Text,
        /// Kind of object acted on, e.g. tenant, user, subscription.
        target_type -> Text,
        /// Id of the object acted on, as text (uuid or external id).
        target_id -> Nullable<Text>,
        /// success | denied (authorization refused) | failure (error).
        outcome -> Text,
        /// JSON object with event specifics. Must never contain secrets (tokens, passwords, keys).
        details -> Jsonb,
        /// Correlation id of the originating API request.
        request_id -> Nullable<Text>,
        /// Client IP address as seen by the API (textual).
        ip -> Nullable<Text>,
        /// When the event happened.
        at -> Timestamptz,
        /// Under impersonation: the user acted as (actor_user_id is then the operator). No foreign key, like actor_email: the trail outlives the user.
        subject_user_id -> Nullable<Uuid>,
        /// Under impersonation: the email of the user acted as, at the time.
        subject_email -> Nullable<Text>,
        /// Under impersonation: the session the change was made in.
        impersonation_session_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    /// The CSV of an export in order of `seq`, about 1 MiB each, streamed back one at a time.
    audit_export_chunks (export_id, seq) {
        export_id -> Uuid,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    /// An audit log export to CSV: who asked, with which scope and filter, and where it stands.
    audit_exports (id) {
        id -> Uuid,
        requested_by -> Uuid,
        /// The requester's audit scope when they asked (the rows the export may contain).
        scope -> Jsonb,
        filter -> Jsonb,
        status -> Text,
        row_count -> Nullable<Int8>,
        byte_count -> Nullable<Int8>,
        truncated -> Bool,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    /// What a tenant's invoices are addressed to; pushed to its Stripe customer.
    billing_details (tenant_id) {
        tenant_id -> Uuid,
        company -> Nullable<Text>,
        /// Normalised (upper case, no separators, with the country prefix; EL for Greece).
        vat_id -> Nullable<Text>,
        country -> Nullable<Text>,
        email -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// White-label branding of one tenant or one partner; NULL fields inherit (tenant from its partner, partner from the product defaults).
    brandings (id) {
        id -> Uuid,
        tenant_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
        product_name -> Nullable<Text>,
        accent_color -> Nullable<Text>,
        logo_url -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Failing domain records an operator accepted; each applies while the record's actual value equals `actual`.
    domain_record_overrides (domain_id, kind, name) {
        domain_id -> Uuid,
        kind -> Text,
        name -> Text,
        /// The value accepted (TXT strings joined; several answers one per line); NULL: accepted as missing.
        actual -> Nullable<Text>,
        reason -> Text,
        /// The operator who accepted it.
        by_email -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Mail domains of tenants: what Stalwart says to publish, the DNS verifier's results and the status with hysteresis.
    domains (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        /// Normalised once: lower case, no trailing dot, IDNA as punycode (A-labels). Unique across tenants.
        name -> Text,
        /// x:Domain id in Stalwart; NULL until the ensure job has run.
        stalwart_id -> Nullable<Text>,
        /// The tenant's primary domain (at most one per tenant); mirrors tenants.primary_domain while that column exists.
        is_primary -> Bool,
        /// none | quarantine | reject: the p= of the DMARC record the tenant should publish.
        dmarc_policy -> Text,
        /// Aggregate report addresses (rua=mailto:...): a JSON array of normalised e-mail addresses.
        dmarc_rua -> Jsonb,
        /// TXT value proving control of the domain, published at the apex (exact match after joining strings).
        ownership_token -> Text,
        /// pending_verification | verified | degraded | failing (hysteresis: see DOMAIN_FAILING_AFTER).
        status -> Text,
        /// MX, SPF and DKIM records from Stalwart's dnsZoneFile: [{type, name, value}], read by the ensure job.
        published -> Jsonb,
        /// Results of the last check: [{type, name, expected, actual, status, reason}].
        records -> Jsonb,
        last_checked_at -> Nullable<Timestamptz>,
        next_check_at -> Timestamptz,
        /// Checks in a row with a failed record (UNKNOWN never counts).
        consecutive_failures -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A tenant's or partner's override of one email template (minijinja, validated on save).
    email_templates (id) {
        id -> Uuid,
        tenant_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
        key -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Feature flags evaluated per tenant; archived flags are kept but never evaluated.
    feature_flags (key) {
        key -> Text,
        description -> Text,
        default_value -> Bool,
        /// Off switch: a disabled flag ignores its rules and evaluates to its default.
        enabled -> Bool,
        /// Ordered rules (first match wins): tenants, partner, plans, percentage. Replaced as a whole.
        rules -> Jsonb,
        archived_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Public JWKs of the impersonation signing keys (never the private key: a CHECK refuses a `d` member).
    impersonation_keys (kid) {
        kid -> Text,
        public_jwk -> Jsonb,
        created_at -> Timestamptz,
        /// After this the key is no longer served nor trusted: every token it signed has expired.
        retire_at -> Timestamptz,
    }
}

diesel::table! {
    /// An operator acting as a user (RFC 8693 token exchange); its tokens work while the session is open and unexpired and the operator is still platform_admin.
    impersonation_sessions (id) {
        id -> Uuid,
        operator_user_id -> Uuid,
        user_id -> Uuid,
        /// The workspace the session concerns (the workspace form, or named by the operator); NULL: none named.
        tenant_id -> Nullable<Uuid>,
        /// Why the operator impersonates (required, shown to the tenant's admins).
        reason -> Text,
        started_at -> Timestamptz,
        expires_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        ended_by_user_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    /// Stripe invoices of tenants, mirrored (webhook events, backfill).
    invoices (stripe_invoice_id) {
        stripe_invoice_id -> Text,
        tenant_id -> Uuid,
        number -> Nullable<Text>,
        status -> Text,
        currency -> Text,
        /// Total, in the currency's minor units (may be negative for a credit).
        total_minor -> Int8,
        amount_due_minor -> Int8,
        amount_paid_minor -> Int8,
        period_start -> Nullable<Timestamptz>,
        period_end -> Nullable<Timestamptz>,
        due_date -> Nullable<Timestamptz>,
        hosted_invoice_url -> Nullable<Text>,
        invoice_pdf_url -> Nullable<Text>,
        /// Stripe's creation time: the order of Tenant.invoices.
        stripe_created -> Timestamptz,
        /// When the state stored was Stripe's (event time or read time); older states never overwrite it.
        stripe_synced_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        payload -> Jsonb,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    member_events (id) {
        id -> Int8,
        membership_id -> Uuid,
        tenant_id -> Uuid,
        seq -> Int4,
        operation -> Text,
        step -> Nullable<Text>,
        status -> Text,
        message -> Nullable<Text>,
        terminal -> Bool,
        at -> Timestamptz,
    }
}

diesel::table! {
    member_secrets (membership_id) {
        membership_id -> Uuid,
        sealed -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    member_steps (membership_id, step) {
        membership_id -> Uuid,
        step -> Text,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A user's membership of a tenant, with the role they hold there.
    memberships (user_id, tenant_id) {
        user_id -> Uuid,
        tenant_id -> Uuid,
        /// owner | admin | member (within the tenant).
        role -> Text,
        /// active | suspended. A suspended member keeps the row but has no access.
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// Surrogate id (the Member node id); (user_id, tenant_id) stays the key.
        id -> Uuid,
        stalwart_account_id -> Nullable<Text>,
        /// The member operation whose steps are current (member_steps).
        operation -> Nullable<Text>,
    }
}

diesel::table! {
    /// Whether Authentik last said the user has a second factor, and when the server asked.
    mfa_enrollments (user_id) {
        user_id -> Uuid,
        /// At least one authenticator device of any type in Authentik.
        enrolled -> Bool,
        /// When Authentik was asked (the job refreshes rows older than MFA_SNAPSHOT_INTERVAL_SECS).
        checked_at -> Timestamptz,
    }
}

diesel::table! {
    /// Paying subscriptions and their MRR per partner, plan and currency, kept by triggers on subscriptions and tenants (never written by the application). A group with no paying subscription has no row.
    mrr_totals (id) {
        /// A surrogate key (a group is keyed by mrr_totals_key).
        id -> Int8,
        /// The partner of the subscriptions' tenants; NULL for the platform's direct customers.
        partner_id -> Nullable<Uuid>,
        plan -> Text,
        currency -> Text,
        /// How many paying subscriptions the group has.
        subscriptions -> Int8,
        /// Their monthly recurring revenue in minor units (subscription_monthly_minor summed).
        mrr_minor -> Int8,
    }
}

diesel::table! {
    /// Users working for a partner; they can manage that partner's tenants.
    partner_staff (user_id, partner_id) {
        user_id -> Uuid,
        partner_id -> Uuid,
        /// admin (manages partner and staff) | member (manages tenants).
        access_level -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// The staff member's Authentik user pk (set by inviteStaff); NULL when unknown.
        authentik_user_pk -> Nullable<Int8>,
    }
}

diesel::table! {
    /// How many tenants each partner has, kept by triggers on tenants (never written by the application). A partner with no row has none.
    partner_tenant_counts (partner_id) {
        partner_id -> Uuid,
        /// Tenants of the partner, any status.
        tenants -> Int8,
        /// Tenants of the partner that are not terminated.
        customers -> Int8,
    }
}

diesel::table! {
    /// Resellers that bring and manage tenants. Never hard-deleted: set status = 'terminated' instead.
    partners (id) {
        id -> Uuid,
        /// URL-safe unique handle: lower-case alphanumerics and single hyphens, 3-63 chars.
        slug -> Text,
        name -> Text,
        /// Partner's own (white-label) domain, lower-case; NULL if none.
        domain -> Nullable<Text>,
        /// active | suspended | terminated. terminated replaces deletion.
        status -> Text,
        /// Reseller margin in percent (0.00-100.00) applied to tenant pricing.
        margin_pct -> Numeric,
        /// Free-form JSON object with contact details (names, emails, phones).
        contact_info -> Jsonb,
        /// Free-form JSON object with invoicing details (address, VAT id). No secrets.
        billing_info -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// Id of the partner's staff group in Authentik; NULL until a staff member was invited.
        authentik_group_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Billing ledger: revenue and partner cut per paid invoice, credit note and void (signed).
    payout_entries (id) {
        id -> Int8,
        /// What the entry is for: in_… (paid), cn_… (credit note), void:in_… (void); once each.
        source_id -> Text,
        kind -> Text,
        stripe_invoice_id -> Text,
        tenant_id -> Uuid,
        partner_id -> Nullable<Uuid>,
        currency -> Text,
        revenue_minor -> Int8,
        margin_bp -> Int4,
        /// The partner's share: cut(invoice net after) − cut(invoice net before), cut(x) = x × margin_bp / 10000 rounded half away from zero.
        partner_cut_minor -> Int8,
        occurred_at -> Timestamptz,
        stripe_event_id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// The plan catalogue (operators): seats and quotas a plan includes.
    plans (key) {
        /// Stable handle (tenants.plan references it); never renamed.
        key -> Text,
        name -> Text,
        /// Seats a tenant on the plan has without a live subscription.
        seats_included -> Int4,
        /// Mailbox quota per member, bytes.
        mailbox_quota_bytes -> Int8,
        /// File storage quota per tenant, bytes.
        storage_quota_bytes -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// The price of a plan per currency and billing cycle, per seat.
    prices (id) {
        id -> Uuid,
        plan_key -> Text,
        currency -> Text,
        billing_cycle -> Text,
        /// Price of one seat per cycle, in the currency's minor units.
        unit_amount_minor -> Int8,
        /// The Stripe Price (price_...) subscriptions use; null until set.
        stripe_price_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    provisioning_events (id) {
        id -> Int8,
        tenant_id -> Uuid,
        seq -> Int4,
        step -> Nullable<Text>,
        status -> Text,
        message -> Nullable<Text>,
        terminal -> Bool,
        at -> Timestamptz,
    }
}

diesel::table! {
    provisioning_steps (tenant_id, step) {
        tenant_id -> Uuid,
        step -> Text,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        upstream_id -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Named partner reports: a kind and its parameters (period, limits).
    saved_reports (id) {
        id -> Uuid,
        partner_id -> Uuid,
        name -> Text,
        kind -> Text,
        parameters -> Jsonb,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// A tenant's seat usage crossing 80 % or 100 % (or back below): the seat warnings as events (seatWarnings).
    seat_events (id) {
        id -> Int8,
        tenant_id -> Uuid,
        /// The warning level reached: 80 or 100 (percent), 0 when back below 80 %.
        level -> Int2,
        /// Members the tenant had then.
        used -> Int4,
        /// Seats the tenant had then.
        included -> Int4,
        at -> Timestamptz,
    }
}

diesel::table! {
    /// A tenant's security policy; no row means the defaults.
    security_policies (tenant_id) {
        tenant_id -> Uuid,
        mfa_mode -> Text,
        session_idle_minutes -> Int4,
        session_absolute_hours -> Int4,
        /// ISO 3166-1 alpha-2 codes (upper case); empty: any country.
        allowed_countries -> Array<Nullable<Text>>,
        /// Normalised CIDR blocks (IPv4 and IPv6); empty: any address. Checked on every request of the tenant's members.
        ip_allowlist -> Array<Nullable<Text>>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Liveness probes of PostgreSQL and the upstreams (the last 24 hours): what each probe saw.
    service_probes (id) {
        id -> Int8,
        service -> Text,
        at -> Timestamptz,
        up -> Bool,
        latency_ms -> Int4,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    /// Every verified Stripe webhook event, once per id; a job applies it (status says how).
    stripe_events (id) {
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        /// The event's own creation time (Stripe's `created`).
        created -> Timestamptz,
        payload -> Jsonb,
        /// received | applied | ignored (a type we do not handle) | stale (older than what is applied) | failed.
        status -> Text,
        error -> Nullable<Text>,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// The current subscription of a tenant (at most one per tenant), mirrored from Stripe.
    subscriptions (id) {
        id -> Uuid,
        /// Unique: one current subscription per tenant. ON DELETE RESTRICT so billing history never vanishes with a tenant.
        tenant_id -> Uuid,
        plan -> Text,
        /// Stripe subscription status: incomplete | trialing | active | past_due | canceled | unpaid.
        status -> Text,
        /// Number of licensed user seats.
        seats -> Int4,
        /// Price per billing cycle in integer minor units of currency (e.g. cents); never floating point.
        price_minor -> Int8,
        /// ISO 4217 currency code, upper-case (e.g. EUR).
        currency -> Text,
        billing_cycle -> Text,
        /// Stripe customer id (cus_...); NULL if not billed through Stripe.
        stripe_customer_id -> Nullable<Text>,
        /// Stripe subscription id (sub_...), unique; NULL if not billed through Stripe.
        stripe_subscription_id -> Nullable<Text>,
        /// End of the current paid period as reported by Stripe.
        current_period_end -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        cancel_at_period_end -> Bool,
        /// Creation time of the newest Stripe event applied; older events never move the row back.
        stripe_synced_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// A tenant's industry and brand colour, and who created it with createWorkspace (at most one row per tenant).
    tenant_profiles (tenant_id) {
        tenant_id -> Uuid,
        /// The tenant's industry, from a fixed list; NULL when not given.
        industry -> Nullable<Text>,
        /// The tenant's brand colour (#rrggbb, lower case).
        brand_color -> Nullable<Text>,
        /// The portal user who created the tenant with createWorkspace (counts against WORKSPACES_PER_USER); NULL otherwise.
        created_by -> Nullable<Uuid>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A tenant's OAuth2/OIDC app in Authentik (provider, application, binding to the tenant's group). Never a secret column.
    tenant_sso_apps (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        client_id -> Text,
        redirect_uris -> Array<Nullable<Text>>,
        launch_url -> Nullable<Text>,
        authentik_provider_pk -> Int8,
        authentik_application_slug -> Text,
        authentik_binding_pk -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Customer organisations (the unit of isolation). Each is provisioned in Authentik, oCIS and Stalwart.
    tenants (id) {
        id -> Uuid,
        /// URL-safe unique handle: lower-case alphanumerics and single hyphens, 3-63 chars.
        slug -> Text,
        name -> Text,
        /// pending (provisioning) | active | suspended | terminated.
        status -> Text,
        /// The plan (plans.key) the tenant is on.
        plan -> Text,
        /// Reselling partner, NULL for direct customers. ON DELETE RESTRICT: partners are never deleted, so an accidental delete fails loudly.
        partner_id -> Nullable<Uuid>,
        /// Tenant's main (mail) domain, lower-case; NULL until configured.
        primary_domain -> Nullable<Text>,
        /// Free-form JSON object with invoicing details (address, VAT id). No secrets.
        billing_info -> Jsonb,
        /// Id of the tenant's group in Authentik; NULL until provisioned.
        authentik_group_id -> Nullable<Text>,
        /// Id of the tenant's space in ownCloud Infinite Scale; NULL until provisioned.
        ocis_space_id -> Nullable<Text>,
        /// Id of the tenant's domain in the Stalwart mail server; NULL until provisioned.
        stalwart_domain_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// Stripe customer id (cus_...), once the stripe_customer provisioning step created it.
        stripe_customer_id -> Nullable<Text>,
        /// The default card of the Stripe customer (its pm_ id only; card details are read from Stripe).
        stripe_payment_method_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// People who can sign in. Identity lives in Authentik; this is the local projection.
    users (id) {
        id -> Uuid,
        /// Stable OIDC subject ("sub" claim) issued by Authentik; the identity key for login.
        authentik_subject -> Nullable<Text>,
        /// Email as last seen from the identity provider; informational, not unique (look up via lower(email)).
        email -> Text,
        name -> Text,
        /// Operator of the whole platform: bypasses tenant and partner scoping.
        platform_admin -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// Authentik user pk (the OIDC sub is a per-provider hash, not this).
        authentik_user_pk -> Nullable<Int8>,
        /// oCIS user id (one per person, whatever their tenants).
        ocis_user_id -> Nullable<Text>,
    }
}

diesel::joinable!(audit_events -> impersonation_sessions (impersonation_session_id));
diesel::joinable!(audit_events -> partners (partner_id));
diesel::joinable!(audit_events -> tenants (tenant_id));
diesel::joinable!(audit_events -> users (actor_user_id));
diesel::joinable!(audit_export_chunks -> audit_exports (export_id));
diesel::joinable!(audit_exports -> users (requested_by));
diesel::joinable!(billing_details -> tenants (tenant_id));
diesel::joinable!(brandings -> partners (partner_id));
diesel::joinable!(brandings -> tenants (tenant_id));
diesel::joinable!(domain_record_overrides -> domains (domain_id));
diesel::joinable!(domains -> tenants (tenant_id));
diesel::joinable!(email_templates -> partners (partner_id));
diesel::joinable!(email_templates -> tenants (tenant_id));
diesel::joinable!(impersonation_sessions -> tenants (tenant_id));
diesel::joinable!(invoices -> tenants (tenant_id));
diesel::joinable!(member_events -> tenants (tenant_id));
diesel::joinable!(memberships -> tenants (tenant_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(mfa_enrollments -> users (user_id));
diesel::joinable!(partner_staff -> partners (partner_id));
diesel::joinable!(partner_staff -> users (user_id));
diesel::joinable!(partner_tenant_counts -> partners (partner_id));
diesel::joinable!(payout_entries -> partners (partner_id));
diesel::joinable!(payout_entries -> tenants (tenant_id));
diesel::joinable!(prices -> plans (plan_key));
diesel::joinable!(provisioning_events -> tenants (tenant_id));
diesel::joinable!(provisioning_steps -> tenants (tenant_id));
diesel::joinable!(saved_reports -> partners (partner_id));
diesel::joinable!(saved_reports -> users (created_by));
diesel::joinable!(seat_events -> tenants (tenant_id));
diesel::joinable!(security_policies -> tenants (tenant_id));
diesel::joinable!(subscriptions -> tenants (tenant_id));
diesel::joinable!(tenant_profiles -> tenants (tenant_id));
diesel::joinable!(tenant_profiles -> users (created_by));
diesel::joinable!(tenant_sso_apps -> tenants (tenant_id));
diesel::joinable!(tenants -> partners (partner_id));
diesel::joinable!(tenants -> plans (plan));

diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    audit_export_chunks,
    audit_exports,
    billing_details,
    brandings,
    domain_record_overrides,
    domains,
    email_templates,
    feature_flags,
    impersonation_keys,
    impersonation_sessions,
    invoices,
    jobs,
    member_events,
    member_secrets,
    member_steps,
    memberships,
    mfa_enrollments,
    mrr_totals,
    partner_staff,
    partner_tenant_counts,
    partners,
    payout_entries,
    plans,
    prices,
    provisioning_events,
    provisioning_steps,
    saved_reports,
    seat_events,
    security_policies,
    service_probes,
    stripe_events,
    subscriptions,
    tenant_profiles,
    tenant_sso_apps,
    tenants,
    users,
);
