//! Assertions for mutations, run by the people of a [`World`]: allowed (one `success` audit
//! row), denied (only a `denied` audit row, nothing else changed) and invalid
//! (`BAD_USER_INPUT` on the field, only a `failure` row). `None` is an anonymous caller.

use serde_json::Value;

use super::app::first_error_code;
use super::tables::{count, fingerprint};
use super::world::World;

impl World {
    /// Runs `query` with `variables` as `who` (anonymously for `None`).
    pub async fn run(&self, who: Option<&str>, query: &str, variables: Value) -> Value {
        match who {
            Some(who) => self.query_with(who, query, variables).await,
            None => self.app.graphql_with(query, variables).await,
        }
    }

    /// Audit rows of `action` with `outcome`.
    pub async fn audit_rows(&self, action: &str, outcome: &str) -> i64 {
        let mut conn = self.db.connect().await;
        count(
            &mut conn,
            &format!("audit_events WHERE action = '{action}' AND outcome = '{outcome}'"),
        )
        .await
    }

    /// Asserts the call is refused with `code`, changes no table, and leaves exactly one
    /// audit row, of `action` with `outcome` — except for an anonymous caller (`who: None`):
    /// then no audit row at all (anyone could fill the log) and the anonymous-mutation
    /// counter moves instead. Returns the response.
    pub async fn refused(
        &self,
        who: Option<&str>,
        query: &str,
        variables: Value,
        action: &str,
        code: &str,
        outcome: &str,
    ) -> Value {
        let mut conn = self.db.connect().await;
        let before = fingerprint(&mut conn).await;
        let audited = self.audit_rows(action, outcome).await;
        let all_audited = count(&mut conn, "audit_events").await;
        let anonymous = self.state.metrics.anonymous_mutations();
        let body = self.run(who, query, variables.clone()).await;
        assert_eq!(
            first_error_code(&body),
            code,
            "{who:?}: {query} {variables}\n{body}"
        );
        assert_eq!(
            fingerprint(&mut conn).await,
            before,
            "nothing changed: {query} {variables}"
        );
        if who.is_none() {
            assert_eq!(
                count(&mut conn, "audit_events").await,
                all_audited,
                "an anonymous attempt writes no audit row: {action}"
            );
            assert_eq!(self.state.metrics.anonymous_mutations(), anonymous + 1);
            return body;
        }
        assert_eq!(
            self.audit_rows(action, outcome).await,
            audited + 1,
            "one {outcome} row for {action}"
        );
        assert_eq!(
            count(&mut conn, "audit_events").await,
            all_audited + 1,
            "no other audit row for {action}"
        );
        assert_eq!(self.state.metrics.anonymous_mutations(), anonymous);
        body
    }

    /// [`World::refused`] with a `denied` row.
    pub async fn denied(
        &self,
        who: Option<&str>,
        query: &str,
        variables: Value,
        action: &str,
        code: &str,
    ) {
        self.refused(who, query, variables, action, code, "denied")
            .await;
    }

    /// [`World::refused`] with `BAD_USER_INPUT` on `field` and a `failure` row.
    pub async fn invalid(
        &self,
        who: &str,
        query: &str,
        variables: Value,
        action: &str,
        field: &str,
    ) {
        let body = self
            .refused(
                Some(who),
                query,
                variables,
                action,
                "BAD_USER_INPUT",
                "failure",
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }

    /// Asserts the call succeeds and leaves one `success` row of `action`.
    pub async fn allowed(&self, who: &str, query: &str, variables: Value, action: &str) -> Value {
        let before = self.audit_rows(action, "success").await;
        let body = self.run(Some(who), query, variables.clone()).await;
        assert!(
            body.get("errors").is_none(),
            "{who}: {query} {variables}\n{body}"
        );
        assert_eq!(
            self.audit_rows(action, "success").await,
            before + 1,
            "one success row for {action}"
        );
        body
    }
}
