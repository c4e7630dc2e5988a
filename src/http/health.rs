//! Liveness, readiness and metrics endpoints for operators and orchestrators.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use diesel_async::RunQueryDsl;

use crate::app::AppState;

/// `GET /healthz`: the process is up and serving HTTP. Touches nothing else.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the database answers within 2 s, else 503 with the reason. Also
/// says which upstreams are enabled; a disabled upstream does not make the service unready.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let check = async {
        let mut conn = app.pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => Json(serde_json::json!({
            "status": "ready",
            "database": "ok",
            "upstreams": app.upstreams.status_json(),
        }))
        .into_response(),
        Ok(Err(reason)) => not_ready(&app, &reason),
        Err(_) => not_ready(&app, "timed out after 2 s"),
    }
}

fn not_ready(app: &AppState, reason: &str) -> Response {
    tracing::warn!(reason, "readiness check failed");
    let body = serde_json::json!({
        "status": "unavailable",
        "database": "unreachable",
        "upstreams": app.upstreams.status_json(),
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
