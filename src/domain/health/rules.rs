//! The tenant health rules: a pure function from what the server knows about a tenant
//! ([`HealthInput`]) to a score, a band and the reasons. Every rule is one row of [`RULES`]
//! (its code, its weight and what triggers it); the README's table is this one. The score
//! starts at 100 and loses each triggered rule's weight (never below 0); the band follows
//! from the score ([`Band::of`]).

use crate::domain::tenants::TenantStatus;

/// A score at or above this is `HEALTHY`.
pub const HEALTHY_FROM: i32 = 80;
/// A score at or above this (and below [`HEALTHY_FROM`]) is `AT_RISK`; below it `CRITICAL`.
pub const AT_RISK_FROM: i32 = 50;

crate::text_enum! {
    /// How a tenant is doing, from its score.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "HealthBand")]
    pub enum Band {
        /// Score 80–100.
        Healthy = "healthy",
        /// Score 50–79.
        AtRisk = "at_risk",
        /// Score 0–49.
        Critical = "critical",
    }
}

impl Band {
    /// The band of `score`.
    pub fn of(score: i32) -> Self {
        if score >= HEALTHY_FROM {
            Self::Healthy
        } else if score >= AT_RISK_FROM {
            Self::AtRisk
        } else {
            Self::Critical
        }
    }
}

/// Second-factor coverage of a tenant's members against its security policy. The seam for
/// the security area: `None` skips the MFA rule (nothing is said about MFA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaCoverage {
    /// Active members the policy requires a second factor of.
    pub required: i64,
    /// Of those, how many have one.
    pub enrolled: i64,
}

/// What the rules look at, for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthInput {
    /// The tenant's lifecycle state.
    pub tenant_status: TenantStatus,
    /// Its current subscription's Stripe status (`None`: no subscription).
    pub subscription_status: Option<String>,
    /// Invoices `open` past their due date.
    pub overdue_invoices: i64,
    /// Invoices marked `uncollectible`.
    pub uncollectible_invoices: i64,
    /// Provisioning and member steps in `error`.
    pub steps_in_error: i64,
    /// Domains `degraded`.
    pub degraded_domains: i64,
    /// Domains `failing`.
    pub failing_domains: i64,
    /// Seats in use (active and provisioning members).
    pub seats_used: i64,
    /// Seats the plan or subscription allows (`None`: unknown, the seat rules are skipped).
    pub seats_limit: Option<i64>,
    /// MFA coverage against the policy (`None`: skipped).
    pub mfa: Option<MfaCoverage>,
}

/// One triggered rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Stable code, e.g. `DOMAIN_FAILING`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
    /// Points taken off the score.
    pub weight: i32,
}

/// A tenant's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// 0–100.
    pub score: i32,
    /// From the score.
    pub band: Band,
    /// Triggered rules, heaviest first.
    pub reasons: Vec<Reason>,
}

/// A rule: its code, and the weight and message it yields for an input, if it triggers.
pub struct Rule {
    /// Stable code.
    pub code: &'static str,
    /// The rule.
    pub check: fn(&HealthInput) -> Option<(i32, String)>,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Every rule, in the README's order.
pub const RULES: &[Rule] = &[
    Rule {
        code: "TENANT_TERMINATED",
        check: |i| {
            (i.tenant_status == TenantStatus::Terminated)
                .then(|| (100, "the tenant is terminated".into()))
        },
    },
    Rule {
        code: "TENANT_SUSPENDED",
        check: |i| {
            (i.tenant_status == TenantStatus::Suspended)
                .then(|| (60, "the tenant is suspended".into()))
        },
    },
    Rule {
        code: "TENANT_PENDING",
        check: |i| {
            (i.tenant_status == TenantStatus::Pending)
                .then(|| (10, "the tenant is not fully provisioned yet".into()))
        },
    },
    Rule {
        code: "SUBSCRIPTION_UNPAID",
        check: |i| {
            (i.subscription_status.as_deref() == Some("unpaid"))
                .then(|| (40, "the subscription is unpaid".into()))
        },
    },
    Rule {
        code: "SUBSCRIPTION_PAST_DUE",
        check: |i| {
            (i.subscription_status.as_deref() == Some("past_due"))
                .then(|| (25, "the subscription is past due".into()))
        },
    },
    Rule {
        code: "SUBSCRIPTION_INCOMPLETE",
        check: |i| {
            (i.subscription_status.as_deref() == Some("incomplete"))
                .then(|| (15, "the subscription's first payment is incomplete".into()))
        },
    },
    Rule {
        code: "SUBSCRIPTION_CANCELED",
        check: |i| {
            (i.subscription_status.as_deref() == Some("canceled"))
                .then(|| (30, "the subscription is canceled".into()))
        },
    },
    Rule {
        code: "INVOICES_OVERDUE",
        check: |i| {
            (i.overdue_invoices > 0).then(|| {
                let weight = (15 * i.overdue_invoices).min(30) as i32;
                (
                    weight,
                    format!(
                        "{} past due",
                        plural(i.overdue_invoices, "open invoice", "open invoices")
                    ),
                )
            })
        },
    },
    Rule {
        code: "INVOICES_UNCOLLECTIBLE",
        check: |i| {
            (i.uncollectible_invoices > 0).then(|| {
                (
                    30,
                    format!(
                        "{} uncollectible",
                        plural(i.uncollectible_invoices, "invoice", "invoices")
                    ),
                )
            })
        },
    },
    Rule {
        code: "STEPS_IN_ERROR",
        check: |i| {
            (i.steps_in_error > 0).then(|| {
                let weight = (10 * i.steps_in_error).min(30) as i32;
                (
                    weight,
                    format!(
                        "{} in error",
                        plural(
                            i.steps_in_error,
                            "provisioning or member step",
                            "provisioning or member steps"
                        )
                    ),
                )
            })
        },
    },
    Rule {
        code: "DOMAINS_FAILING",
        check: |i| {
            (i.failing_domains > 0).then(|| {
                let weight = (25 * i.failing_domains).min(50) as i32;
                (
                    weight,
                    format!("{} failing", plural(i.failing_domains, "domain", "domains")),
                )
            })
        },
    },
    Rule {
        code: "DOMAINS_DEGRADED",
        check: |i| {
            (i.degraded_domains > 0).then(|| {
                let weight = (10 * i.degraded_domains).min(20) as i32;
                (
                    weight,
                    format!(
                        "{} degraded",
                        plural(i.degraded_domains, "domain", "domains")
                    ),
                )
            })
        },
    },
    Rule {
        code: "SEATS_EXCEEDED",
        check: |i| match i.seats_limit {
            Some(limit) if i.seats_used > limit => {
                Some((20, format!("{} seats used of {limit}", i.seats_used)))
            }
            _ => None,
        },
    },
    Rule {
        code: "SEATS_NEARLY_FULL",
        check: |i| match i.seats_limit {
            Some(limit) if limit > 0 && i.seats_used <= limit && i.seats_used * 10 >= limit * 9 => {
                Some((5, format!("{} seats used of {limit}", i.seats_used)))
            }
            _ => None,
        },
    },
    Rule {
        code: "MFA_COVERAGE_LOW",
        check: |i| match i.mfa {
            Some(m) if m.required > 0 && m.enrolled < m.required => {
                let missing = m.required - m.enrolled;
                // Up to 20 points, in proportion to the members missing a second factor.
                let weight =
                    (20 * missing.unsigned_abs()).div_ceil(m.required.unsigned_abs()) as i32;
                Some((
                    weight,
                    format!(
                        "{} of {} members required to use MFA have no second factor",
                        missing, m.required
                    ),
                ))
            }
            _ => None,
        },
    },
];

/// Applies every rule to `input`.
pub fn evaluate(input: &HealthInput) -> Health {
    let mut reasons: Vec<Reason> = RULES
        .iter()
        .filter_map(|rule| {
            (rule.check)(input).map(|(weight, message)| Reason {
                code: rule.code,
                message,
                weight,
            })
        })
        .collect();
    reasons.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.code.cmp(b.code)));
    let score = (100 - reasons.iter().map(|r| r.weight).sum::<i32>()).max(0);
    Health {
        score,
        band: Band::of(score),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> HealthInput {
        HealthInput {
            tenant_status: TenantStatus::Active,
            subscription_status: Some("active".into()),
            overdue_invoices: 0,
            uncollectible_invoices: 0,
            steps_in_error: 0,
            degraded_domains: 0,
            failing_domains: 0,
            seats_used: 5,
            seats_limit: Some(10),
            mfa: Some(MfaCoverage {
                required: 5,
                enrolled: 5,
            }),
        }
    }

    /// The codes and weights `input` triggers, heaviest first.
    fn fired(input: &HealthInput) -> Vec<(&'static str, i32)> {
        evaluate(input)
            .reasons
            .iter()
            .map(|r| (r.code, r.weight))
            .collect()
    }

    #[test]
    fn a_healthy_tenant_scores_100_with_no_reasons() {
        let h = evaluate(&healthy());
        assert_eq!((h.score, h.band, h.reasons), (100, Band::Healthy, vec![]));
    }

    #[test]
    fn tenant_status_rules() {
        for (status, want) in [
            (TenantStatus::Terminated, vec![("TENANT_TERMINATED", 100)]),
            (TenantStatus::Suspended, vec![("TENANT_SUSPENDED", 60)]),
            (TenantStatus::Pending, vec![("TENANT_PENDING", 10)]),
            (TenantStatus::Active, vec![]),
        ] {
            let input = HealthInput {
                tenant_status: status,
                ..healthy()
            };
            assert_eq!(fired(&input), want, "{status}");
        }
    }

    #[test]
    fn subscription_rules() {
        for (status, want) in [
            (Some("unpaid"), vec![("SUBSCRIPTION_UNPAID", 40)]),
            (Some("past_due"), vec![("SUBSCRIPTION_PAST_DUE", 25)]),
            (Some("incomplete"), vec![("SUBSCRIPTION_INCOMPLETE", 15)]),
            (Some("canceled"), vec![("SUBSCRIPTION_CANCELED", 30)]),
            (Some("trialing"), vec![]),
            (Some("active"), vec![]),
            (None, vec![]),
        ] {
            let input = HealthInput {
                subscription_status: status.map(str::to_owned),
                ..healthy()
            };
            assert_eq!(fired(&input), want, "{status:?}");
        }
    }

    #[test]
    fn invoice_rules_grow_then_cap() {
        let overdue = |n| HealthInput {
            overdue_invoices: n,
            ..healthy()
        };
        assert_eq!(fired(&overdue(1)), [("INVOICES_OVERDUE", 15)]);
        assert_eq!(fired(&overdue(2)), [("INVOICES_OVERDUE", 30)]);
        assert_eq!(fired(&overdue(7)), [("INVOICES_OVERDUE", 30)]);
        let bad = HealthInput {
            uncollectible_invoices: 3,
            ..healthy()
        };
        assert_eq!(fired(&bad), [("INVOICES_UNCOLLECTIBLE", 30)]);
        assert_eq!(
            evaluate(&bad).reasons[0].message,
            "3 invoices uncollectible"
        );
    }

    #[test]
    fn steps_and_domains_rules() {
        let steps = |n| HealthInput {
            steps_in_error: n,
            ..healthy()
        };
        assert_eq!(fired(&steps(1)), [("STEPS_IN_ERROR", 10)]);
        assert_eq!(fired(&steps(5)), [("STEPS_IN_ERROR", 30)]);
        let domains = HealthInput {
            failing_domains: 1,
            degraded_domains: 3,
            ..healthy()
        };
        assert_eq!(
            fired(&domains),
            [("DOMAINS_FAILING", 25), ("DOMAINS_DEGRADED", 20)]
        );
        let many = HealthInput {
            failing_domains: 3,
            ..healthy()
        };
        assert_eq!(fired(&many), [("DOMAINS_FAILING", 50)]);
    }

    #[test]
    fn seat_rules_at_their_boundaries() {
        let seats = |used, limit| HealthInput {
            seats_used: used,
            seats_limit: limit,
            ..healthy()
        };
        assert_eq!(fired(&seats(8, Some(10))), []);
        assert_eq!(fired(&seats(9, Some(10))), [("SEATS_NEARLY_FULL", 5)]);
        assert_eq!(fired(&seats(10, Some(10))), [("SEATS_NEARLY_FULL", 5)]);
        assert_eq!(fired(&seats(11, Some(10))), [("SEATS_EXCEEDED", 20)]);
        assert_eq!(fired(&seats(0, Some(0))), []);
        assert_eq!(fired(&seats(500, None)), [], "unknown limit: skipped");
    }

    #[test]
    fn the_mfa_rule_is_skipped_without_coverage() {
        let mfa = |m| HealthInput {
            mfa: m,
            ..healthy()
        };
        assert_eq!(fired(&mfa(None)), []);
        let cov = |required, enrolled| Some(MfaCoverage { required, enrolled });
        assert_eq!(fired(&mfa(cov(0, 0))), []);
        assert_eq!(fired(&mfa(cov(4, 4))), []);
        assert_eq!(fired(&mfa(cov(4, 3))), [("MFA_COVERAGE_LOW", 5)]);
        assert_eq!(
            fired(&mfa(cov(3, 2))),
            [("MFA_COVERAGE_LOW", 7)],
            "rounded up"
        );
        assert_eq!(fired(&mfa(cov(4, 0))), [("MFA_COVERAGE_LOW", 20)]);
    }

    #[test]
    fn band_boundaries() {
        assert_eq!(Band::of(100), Band::Healthy);
        assert_eq!(Band::of(80), Band::Healthy);
        assert_eq!(Band::of(79), Band::AtRisk);
        assert_eq!(Band::of(50), Band::AtRisk);
        assert_eq!(Band::of(49), Band::Critical);
        assert_eq!(Band::of(0), Band::Critical);
        // Through the rules: 100 - 20 = 80 (healthy), - 25 more = 55 (at risk),
        // 100 - 40 - 15 = 45 (critical), and the floor at 0.
        let h = evaluate(&HealthInput {
            seats_used: 11,
            ..healthy()
        });
        assert_eq!((h.score, h.band), (80, Band::Healthy));
        let h = evaluate(&HealthInput {
            seats_used: 11,
            subscription_status: Some("past_due".into()),
            ..healthy()
        });
        assert_eq!((h.score, h.band), (55, Band::AtRisk));
        let h = evaluate(&HealthInput {
            seats_used: 11,
            subscription_status: Some("past_due".into()),
            steps_in_error: 1,
            ..healthy()
        });
        assert_eq!((h.score, h.band), (45, Band::Critical));
        // Exactly on the boundaries: one point of MFA weight tips each over.
        let one_missing = Some(MfaCoverage {
            required: 20,
            enrolled: 19,
        });
        let h = evaluate(&HealthInput {
            seats_used: 11,
            mfa: one_missing,
            ..healthy()
        });
        assert_eq!((h.score, h.band), (79, Band::AtRisk));
        let h = evaluate(&HealthInput {
            seats_used: 11,
            subscription_status: Some("canceled".into()),
            ..healthy()
        });
        assert_eq!((h.score, h.band), (50, Band::AtRisk));
        let h = evaluate(&HealthInput {
            seats_used: 11,
            subscription_status: Some("canceled".into()),
            mfa: one_missing,
            ..healthy()
        });
        assert_eq!((h.score, h.band), (49, Band::Critical));
        let h = evaluate(&HealthInput {
            tenant_status: TenantStatus::Terminated,
            failing_domains: 2,
            ..healthy()
        });
        assert_eq!((h.score, h.band), (0, Band::Critical));
    }
}
