//! Flag rules and the one evaluator every reader uses (the graph and the server itself).
//!
//! A flag's rules are ordered; the first rule that matches a tenant decides its value. No
//! match: the flag's default. A disabled flag ignores its rules (its default applies); an
//! archived or unknown flag is `false` (fail closed).
//!
//! The percentage rule puts each tenant in a stable bucket 0–9999 from an FNV-1a hash of
//! `"<flag key>:<tenant id>"`; a tenant is in when its bucket is below `percent × 100`. So the
//! same tenant always gets the same answer, and raising 10 % to 20 % keeps the first 10 % in.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a rule matches on, as stored (`feature_flags.rules`, a JSON array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Matcher {
    /// These tenants.
    Tenants {
        /// Tenant ids.
        #[serde(rename = "tenantIds")]
        tenant_ids: Vec<Uuid>,
    },
    /// Every tenant of this partner.
    Partner {
        /// Partner id.
        #[serde(rename = "partnerId")]
        partner_id: Uuid,
    },
    /// Tenants on one of these plans.
    Plans {
        /// Plan names.
        plans: Vec<String>,
    },
    /// A stable share of all tenants, in hundredths of a percent (0–10000).
    Percentage {
        /// Share in basis points (2500 = 25 %).
        #[serde(rename = "basisPoints")]
        basis_points: u16,
    },
}

/// One rule: a matcher and the value it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// What it matches.
    #[serde(flatten)]
    pub matcher: Matcher,
    /// The value for matching tenants.
    pub value: bool,
}

/// What the evaluator knows about a tenant.
#[derive(Debug, Clone, Copy)]
pub struct TenantFacts<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its partner.
    pub partner_id: Option<Uuid>,
    /// Its plan.
    pub plan: &'a str,
}

/// A flag as the evaluator needs it.
#[derive(Debug, Clone)]
pub struct FlagDefinition {
    /// Key.
    pub key: String,
    /// Value when no rule matches (and when disabled).
    pub default_value: bool,
    /// Off switch.
    pub enabled: bool,
    /// Ordered rules.
    pub rules: Vec<Rule>,
}

/// The tenant's bucket (0–9999) for a flag; stable across processes and releases.
pub fn bucket(flag_key: &str, tenant: Uuid) -> u16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in flag_key
        .bytes()
        .chain(std::iter::once(b':'))
        .chain(tenant.to_string().bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u16::try_from(hash % 10_000).expect("below 10000")
}

impl Matcher {
    fn matches(&self, flag_key: &str, tenant: &TenantFacts<'_>) -> bool {
        match self {
            Self::Tenants { tenant_ids } => tenant_ids.contains(&tenant.id),
            Self::Partner { partner_id } => tenant.partner_id == Some(*partner_id),
            Self::Plans { plans } => plans.iter().any(|p| p == tenant.plan),
            Self::Percentage { basis_points } => bucket(flag_key, tenant.id) < *basis_points,
        }
    }
}

impl FlagDefinition {
    /// The value for `tenant`, and the index of the rule that decided it (`None`: default).
    pub fn evaluate(&self, tenant: &TenantFacts<'_>) -> (bool, Option<usize>) {
        if !self.enabled {
            return (self.default_value, None);
        }
        self.rules
            .iter()
            .position(|r| r.matcher.matches(&self.key, tenant))
            .map_or((self.default_value, None), |i| {
                (self.rules[i].value, Some(i))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(rules: Vec<Rule>) -> FlagDefinition {
        FlagDefinition {
            key: "new_billing".into(),
            default_value: false,
            enabled: true,
            rules,
        }
    }

    fn facts(id: Uuid, partner: Option<Uuid>, plan: &str) -> TenantFacts<'_> {
        TenantFacts {
            id,
            partner_id: partner,
            plan,
        }
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let (t, p) = (Uuid::new_v4(), Uuid::new_v4());
        let f = flag(vec![
            Rule {
                matcher: Matcher::Tenants {
                    tenant_ids: vec![t],
                },
                value: false,
            },
            Rule {
                matcher: Matcher::Partner { partner_id: p },
                value: true,
            },
            Rule {
                matcher: Matcher::Plans {
                    plans: vec!["business".into()],
                },
                value: true,
            },
        ]);
        assert_eq!(
            f.evaluate(&facts(t, Some(p), "business")),
            (false, Some(0)),
            "listed tenant first"
        );
        assert_eq!(
            f.evaluate(&facts(Uuid::new_v4(), Some(p), "standard")),
            (true, Some(1))
        );
        assert_eq!(
            f.evaluate(&facts(Uuid::new_v4(), None, "business")),
            (true, Some(2))
        );
        assert_eq!(
            f.evaluate(&facts(Uuid::new_v4(), None, "standard")),
            (false, None),
            "default"
        );
    }

    #[test]
    fn a_disabled_flag_gives_its_default() {
        let t = Uuid::new_v4();
        let mut f = flag(vec![Rule {
            matcher: Matcher::Tenants {
                tenant_ids: vec![t],
            },
            value: true,
        }]);
        f.enabled = false;
        f.default_value = false;
        assert_eq!(f.evaluate(&facts(t, None, "standard")), (false, None));
    }

    #[test]
    fn rollout_is_stable_and_monotonic() {
        let tenants: Vec<Uuid> = (0..2000).map(|_| Uuid::new_v4()).collect();
        let at = |percent: u16| -> Vec<bool> {
            let f = flag(vec![Rule {
                matcher: Matcher::Percentage {
                    basis_points: percent * 100,
                },
                value: true,
            }]);
            tenants
                .iter()
                .map(|t| f.evaluate(&facts(*t, None, "standard")).0)
                .collect()
        };
        let (ten, twenty) = (at(10), at(20));
        assert_eq!(ten, at(10), "the same answer every time");
        assert!(
            ten.iter().zip(&twenty).all(|(a, b)| !a || *b),
            "raising 10% to 20% keeps the first 10% in"
        );
        let share = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / v.len() as f64;
        assert!((share(&ten) - 0.10).abs() < 0.03, "{}", share(&ten));
        assert!((share(&twenty) - 0.20).abs() < 0.03, "{}", share(&twenty));
        assert!(at(0).iter().all(|x| !x) && at(100).iter().all(|x| *x));
    }

    #[test]
    fn buckets_are_fixed_across_releases() {
        // A changed hash would reshuffle every rollout in production.
        let id = Uuid::parse_str("6f1c8c1e-4b7a-4a53-9a43-3c1f2f0f0b11").unwrap();
        assert_eq!(bucket("new_billing", id), bucket("new_billing", id));
        assert_ne!(
            bucket("new_billing", id),
            bucket("other_flag", id),
            "buckets differ per flag"
        );
        assert_eq!(
            bucket("new_billing", id),
            1149,
            "FNV-1a, computed independently"
        );
    }

    #[test]
    fn rules_round_trip_as_json() {
        let rule = Rule {
            matcher: Matcher::Percentage { basis_points: 2500 },
            value: true,
        };
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "kind": "percentage", "basisPoints": 2500, "value": true })
        );
        assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), rule);
    }
}
