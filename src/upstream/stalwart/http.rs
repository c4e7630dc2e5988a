//! The reqwest implementation of [`StalwartClient`] over JMAP.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::jmap::{Jmap, ids_of, list, refused, set_error};
use super::*;
use crate::upstream::config::{HttpSettings, StalwartConfig};
use crate::upstream::transport::Transport;

/// Stalwart over HTTPS with an API key or an administrator's password.
#[derive(Debug)]
pub struct HttpStalwartClient {
    jmap: Jmap,
}

#[derive(Deserialize)]
struct DomainWire {
    id: String,
    name: String,
    #[serde(rename = "dnsZoneFile", default)]
    zone_file: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountWire {
    id: String,
    #[serde(rename = "@type")]
    kind: String,
    name: String,
    domain_id: String,
    #[serde(default)]
    email_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DkimWire {
    #[serde(rename = "@type")]
    kind: String,
    selector: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    stage: String,
}

impl HttpStalwartClient {
    /// A client for the configured server and credentials.
    pub fn new(config: &StalwartConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        let transport = Transport::new("stalwart", &config.url, config.credentials.clone(), http)?;
        Ok(Self {
            jmap: Jmap::new(transport),
        })
    }

    /// The domain called exactly `name` (already normalised), if there is one. The name
    /// filter may match more than the exact name: compared here.
    async fn domain_named(&self, name: &str) -> Result<Option<Domain>, StalwartError> {
        let found = self.find_domains(json!({ "name": name })).await?;
        Ok(found
            .into_iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
            .map(|d| Domain {
                id: d.id,
                name: d.name,
            }))
    }

    async fn find_domains(&self, filter: Value) -> Result<Vec<DomainWire>, StalwartError> {
        let answers = self
            .jmap
            .call(
                vec![
                    ("x:Domain/query", json!({ "filter": filter })),
                    (
                        "x:Domain/get",
                        json!({ "#ids": ids_of(0, "x:Domain/query"), "properties": ["id", "name"] }),
                    ),
                ],
                true,
            )
            .await?;
        list(answers.get(1, "x:Domain/get")?)
    }

    /// Destroys one object; "not found" counts as destroyed. Repeating a destroy ends in the
    /// same state, so it is retried.
    async fn destroy(
        &self,
        method: &str,
        what: &'static str,
        id: &str,
    ) -> Result<(), StalwartError> {
        let answers = self
            .jmap
            .call(vec![(method, json!({ "destroy": [id] }))], true)
            .await?;
        let answer = answers.get(0, method)?;
        match set_error(answer, "notDestroyed", id) {
            None | Some((SetErrorKind::NotFound, _)) => Ok(()),
            Some((SetErrorKind::ObjectIsLinked, error)) if what == "domain" => {
                Err(StalwartError::DomainInUse {
                    linked: linked_objects(&error),
                })
            }
            Some((kind, error)) => Err(refused(what, kind, &error)),
        }
    }

    /// The account's `Password` credential slot: its list key, or the next free one.
    async fn password_slot(&self, account_id: &str) -> Result<(String, bool), StalwartError> {
        let answers = self
            .jmap
            .call(
                vec![(
                    "x:Account/get",
                    json!({ "ids": [account_id], "properties": ["credentials"] }),
                )],
                true,
            )
            .await?;
        let answer = answers.get(0, "x:Account/get")?;
        let Some(account) = answer["list"].get(0) else {
            return Err(StalwartError::NotFound { what: "account" });
        };
        let empty = Map::new();
        let credentials = account["credentials"].as_object().unwrap_or(&empty);
        if let Some((key, _)) = credentials.iter().find(|(_, c)| c["@type"] == "Password") {
            return Ok((key.clone(), true));
        }
        let next = credentials
            .keys()
            .filter_map(|k| k.parse::<u32>().ok())
            .max()
            .map_or(0, |m| m + 1);
        Ok((next.to_string(), false))
    }
}

#[async_trait]
impl StalwartClient for HttpStalwartClient {
    #[tracing::instrument(name = "stalwart.probe", skip_all)]
    async fn probe(&self) -> Result<(), StalwartError> {
        self.jmap.probe().await
    }

    #[tracing::instrument(name = "stalwart.ensure_domain", skip_all)]
    async fn ensure_domain(&self, name: &str) -> Result<Domain, StalwartError> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some(domain) = self.domain_named(&name).await? {
            return Ok(domain);
        }
        let create = json!({ "create": { "d": {
            "name": name,
            "dkimManagement": { "@type": "Automatic" },
        }}});
        let answers = self
            .jmap
            .call(vec![("x:Domain/set", create)], false)
            .await?;
        let answer = answers.get(0, "x:Domain/set")?;
        if let Some(id) = answer["created"]["d"]["id"].as_str() {
            return Ok(Domain {
                id: id.to_owned(),
                name,
            });
        }
        match set_error(answer, "notCreated", "d") {
            // Created by someone else since we looked (two jobs ensuring the same domain, as
            // provisioning and the domains area do for a primary domain): that one is ours.
            Some((SetErrorKind::PrimaryKeyViolation, error)) => {
                match self.domain_named(&name).await? {
                    Some(domain) => Ok(domain),
                    None => Err(refused("domain", SetErrorKind::PrimaryKeyViolation, &error)),
                }
            }
            Some((kind, error)) => Err(refused("domain", kind, &error)),
            None => Err(CallError::decode(200, "no created or notCreated entry").into()),
        }
    }

    /// Pages through `x:Domain/query` (`position` + `limit`, `calculateTotal`), each page
    /// fetched by a back-referenced `x:Domain/get` of at most `maxObjectsInGet` ids: one get of
    /// every id is refused past 500 (`requestTooLarge`), and an unpaged query stops at the
    /// server's 5,000.
    #[tracing::instrument(name = "stalwart.list_domains", skip_all)]
    async fn list_domains(&self) -> Result<Vec<Domain>, StalwartError> {
        let page = self.jmap.max_objects_in_get().await?;
        let mut domains = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let position = domains.len();
            let query = json!({
                "filter": {},
                "position": position, "limit": page, "calculateTotal": true,
            });
            let get = json!({
                "#ids": ids_of(0, "x:Domain/query"), "properties": ["id", "name"],
            });
            let answers = self
                .jmap
                .call(vec![("x:Domain/query", query), ("x:Domain/get", get)], true)
                .await?;
            let total = answers.get(0, "x:Domain/query")?["total"].as_u64();
            let found: Vec<DomainWire> = list(answers.get(1, "x:Domain/get")?)?;
            let fresh = found.len();
            for d in found {
                if seen.insert(d.id.clone()) {
                    domains.push(Domain {
                        id: d.id,
                        name: d.name,
                    });
                }
            }
            let done = match total {
                Some(total) => domains.len() as u64 >= total,
                None => fresh < page,
            };
            if done || fresh == 0 || domains.len() == position {
                return Ok(domains);
            }
        }
    }

    #[tracing::instrument(name = "stalwart.delete_domain", skip_all)]
    async fn delete_domain(&self, domain_id: &str) -> Result<(), StalwartError> {
        self.destroy("x:Domain/set", "domain", domain_id).await
    }

    #[tracing::instrument(name = "stalwart.domain_dns", skip_all)]
    async fn domain_dns(&self, domain_id: &str) -> Result<DomainDns, StalwartError> {
        let answers = self
            .jmap
            .call(
                vec![
                    (
                        "x:Domain/get",
                        json!({ "ids": [domain_id], "properties": ["id", "name", "dnsZoneFile"] }),
                    ),
                    (
                        "x:DkimSignature/query",
                        json!({ "filter": { "domainId": domain_id } }),
                    ),
                    (
                        "x:DkimSignature/get",
                        json!({
                            "#ids": ids_of(1, "x:DkimSignature/query"),
                            "properties": ["id", "@type", "selector", "publicKey", "stage"],
                        }),
                    ),
                ],
                true,
            )
            .await?;
        let domains: Vec<DomainWire> = list(answers.get(0, "x:Domain/get")?)?;
        let domain = domains
            .into_iter()
            .find(|d| d.id == domain_id)
            .ok_or(StalwartError::NotFound { what: "domain" })?;
        let keys: Vec<DkimWire> = list(answers.get(2, "x:DkimSignature/get")?)?;
        Ok(DomainDns {
            records: zone::parse(&domain.zone_file),
            zone_file: domain.zone_file,
            domain: Domain {
                id: domain.id,
                name: domain.name,
            },
            dkim: keys
                .into_iter()
                .map(|k| DkimKey {
                    algorithm: k.kind,
                    selector: k.selector,
                    public_key: k.public_key,
                    stage: k.stage,
                })
                .collect(),
        })
    }

    #[tracing::instrument(name = "stalwart.ensure_account", skip_all)]
    async fn ensure_account(&self, account: &NewAccount) -> Result<Account, StalwartError> {
        let properties = ["id", "@type", "name", "domainId", "emailAddress"];
        let lookup = vec![
            (
                "x:Account/query",
                json!({ "filter": { "name": account.name, "domainId": account.domain_id } }),
            ),
            (
                "x:Account/get",
                json!({ "#ids": ids_of(0, "x:Account/query"), "properties": properties }),
            ),
        ];
        let answers = self.jmap.call(lookup, true).await?;
        let found: Vec<AccountWire> = list(answers.get(1, "x:Account/get")?)?;
        if let Some(a) = found.into_iter().find(|a| {
            a.kind == "User" && a.name == account.name && a.domain_id == account.domain_id
        }) {
            return Ok(Account {
                id: a.id,
                name: a.name,
                email_address: a.email_address,
            });
        }
        let mut user = json!({
            "@type": "User",
            "name": account.name,
            "domainId": account.domain_id,
            "credentials": { "0": { "@type": "Password", "secret": account.password.expose() } },
            "roles": { "@type": "User" },
            "permissions": { "@type": "Inherit" },
        });
        if let Some(quota) = account.quota_bytes {
            user["quotas"] = json!({ "maxDiskQuota": quota });
        }
        if let Some(description) = &account.description {
            user["description"] = json!(description);
        }
        let create = json!({ "create": { "a": user } });
        let answers = self
            .jmap
            .call(vec![("x:Account/set", create)], false)
            .await?;
        let answer = answers.get(0, "x:Account/set")?;
        let Some(created) = answer["created"].get("a") else {
            return match set_error(answer, "notCreated", "a") {
                Some((kind, error)) => Err(refused("account", kind, &error)),
                None => Err(CallError::decode(200, "no created or notCreated entry").into()),
            };
        };
        Ok(Account {
            id: created["id"].as_str().unwrap_or_default().to_owned(),
            name: account.name.clone(),
            email_address: created["emailAddress"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    #[tracing::instrument(name = "stalwart.update_account", skip_all)]
    async fn update_account(
        &self,
        account_id: &str,
        update: &AccountUpdate,
    ) -> Result<(), StalwartError> {
        let mut patch = Map::new();
        if let Some(password) = &update.password {
            // The patch path into the credential list is UNCONFIRMED against a live server
            // (upstreams.md): we patch the existing Password entry's `secret`.
            match self.password_slot(account_id).await? {
                (key, true) => patch.insert(
                    format!("credentials/{key}/secret"),
                    json!(password.expose()),
                ),
                (key, false) => patch.insert(
                    format!("credentials/{key}"),
                    json!({ "@type": "Password", "secret": password.expose() }),
                ),
            };
        }
        if let Some(quota) = update.quota_bytes {
            patch.insert("quotas/maxDiskQuota".into(), json!(quota));
        }
        if let Some(enabled) = update.enabled {
            let permissions = if enabled {
                json!({ "@type": "Inherit" })
            } else {
                json!({
                    "@type": "Merge",
                    "enabledPermissions": {},
                    "disabledPermissions": { "authenticate": true },
                })
            };
            patch.insert("permissions".into(), permissions);
        }
        if let Some(description) = &update.description {
            patch.insert("description".into(), json!(description));
        }
        if let Some(aliases) = &update.aliases {
            // An objectList is a JSON object keyed by index.
            let list: Map<String, Value> = aliases
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let alias = json!({ "name": a.name, "domainId": a.domain_id, "enabled": true });
                    (i.to_string(), alias)
                })
                .collect();
            patch.insert("aliases".into(), Value::Object(list));
        }
        if patch.is_empty() {
            return Ok(());
        }
        let set = json!({ "update": { account_id: patch } });
        let answers = self.jmap.call(vec![("x:Account/set", set)], true).await?;
        let answer = answers.get(0, "x:Account/set")?;
        match set_error(answer, "notUpdated", account_id) {
            None => Ok(()),
            Some((SetErrorKind::NotFound, _)) => Err(StalwartError::NotFound { what: "account" }),
            Some((kind, error)) => Err(refused("account", kind, &error)),
        }
    }

    #[tracing::instrument(name = "stalwart.delete_account", skip_all)]
    async fn delete_account(&self, account_id: &str) -> Result<(), StalwartError> {
        self.destroy("x:Account/set", "account", account_id).await
    }
}

/// What a `SetError`'s `linkedObjects` (`{ "x:Account": [ids…], … }`) names, as
/// `"<count> <what>"` phrases (e.g. `2 mailboxes`), in a stable order.
fn linked_objects(error: &serde_json::Value) -> Vec<String> {
    let Some(map) = error["linkedObjects"].as_object() else {
        return Vec::new();
    };
    let mut out: Vec<String> = map
        .iter()
        .map(|(kind, ids)| {
            let n = ids.as_array().map_or(0, Vec::len);
            let (one, many) = match kind.as_str() {
                "x:Account" => ("mailbox", "mailboxes"),
                "x:MailingList" => ("mailing list", "mailing lists"),
                "x:EmailAlias" | "x:Alias" => ("alias", "aliases"),
                other => (other, other),
            };
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    out.sort();
    out
}
