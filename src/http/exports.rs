//! `GET /exports/<id>`: the CSV of an audit log export, for the caller who requested it
//! (the same bearer token rules as `/graphql`), while it has not expired. Streamed from the
//! database one stored chunk (about 1 MiB) at a time, so memory does not grow with the file.
//! 401 without valid credentials; 404 for an unknown, expired or foreign export (the three
//! are indistinguishable); 409 while it is still being written.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::context::AuthContext;
use crate::domain::audit::export::{self, ExportStatus};
use crate::error::ErrorCode;
use crate::http::reply;

/// `GET /exports/{id}`.
pub async fn download(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = AuthContext::from_authorization(authorization);
    let Ok(viewer) = auth.viewer(&app.auth, &app.pool).await else {
        return reply::error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "authentication required",
        );
    };
    let not_found = || {
        reply::error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "audit export not found",
        )
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found();
    };
    let found = async {
        let mut conn = app.pool.get().await?;
        export::find_for(&mut conn, &viewer, id).await
    }
    .await;
    let row = match found {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "could not read an audit export");
            return reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal,
                "Internal server error",
            );
        }
    };
    if row.status != ExportStatus::Ready {
        return reply::error(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "the export is not ready",
        );
    }
    let pool = app.pool.clone();
    let chunks = futures_util::stream::unfold(Some(0i32), move |seq| {
        let pool = pool.clone();
        async move {
            let seq = seq?;
            let next = async {
                let mut conn = pool.get().await?;
                anyhow::Ok(export::chunk(&mut conn, id, seq).await?)
            }
            .await;
            match next {
                Ok(Some(data)) => Some((Ok(Bytes::from(data)), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, export = %id, "audit export download broke off");
                    Some((Err(std::io::Error::other("export chunk unreadable")), None))
                }
            }
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"audit-{id}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = row.byte_count {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
