//! A worker's claim reads the queue through its two partial indexes: with thousands of jobs queued
//! it reads the first rows of one range in order, never a scan and sort of the whole queue
//! (which cost 14 ms per claim with 10,000 jobs queued and bounded the benchmark's jobs/s).

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use platform_api::domain::jobs::claim_batch_statement;

use super::jobs::arrange;
use crate::support::World;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test]
async fn a_claim_reads_the_claim_index_not_the_whole_queue() {
    let api = World::new().spawn().await;
    // 4,000 step jobs, all due, and one job of another kind.
    arrange(&api, "plan", 1_000).await;
    let mut conn = api.db.connect().await;
    for sql in [
        "UPDATE jobs SET run_at = now() - interval '1 minute' WHERE kind = 'provisioning_step'",
        "INSERT INTO jobs (kind, payload, dedupe_key, max_attempts)
         VALUES ('retention', '{}', 'plan-other', 3)",
        "ANALYZE jobs",
        &format!(
            "PREPARE claim(text, bigint, bigint) AS {}",
            claim_batch_statement()
        ),
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    // The plan a pooled connection uses first (custom) and after five runs (generic).
    for mode in ["force_custom_plan", "force_generic_plan"] {
        diesel::sql_query(format!("SET plan_cache_mode = {mode}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let plan: Vec<PlanLine> =
            diesel::sql_query("EXPLAIN EXECUTE claim('plan-worker', 30000, 16)")
                .load(&mut conn)
                .await
                .unwrap();
        let plan: String = plan.into_iter().map(|l| l.line + "\n").collect();
        assert!(
            !plan.contains("Seq Scan on jobs"),
            "{mode}: a claim scans the whole queue:\n{plan}"
        );
        for index in ["jobs_claim_steps_idx", "jobs_claim_others_idx"] {
            assert!(
                plan.contains(index),
                "{mode}: the claim should read {index}:\n{plan}"
            );
        }
        assert!(!plan.contains("Sort"), "{mode}: the claim sorts:\n{plan}");
    }
}
