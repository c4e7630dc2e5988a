//! A socket opened with an impersonation token lives only as long as its session: a task
//! re-checks the session whenever it may have changed (`endImpersonation`, an admin flag
//! changed, a listener resync) and cancels the socket's token when it no longer holds. The
//! serve loop closes the socket with 4403 then. (The check runs in its own task so that a
//! message arriving mid-check cannot drop it.)

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::VerifiedToken;
use crate::domain::impersonation;
use crate::events::Event;

/// The session's end, as seen by the socket; dropping it stops the watching task.
pub(super) struct Watch {
    closed: CancellationToken,
    _task: tokio::task::JoinHandle<()>,
    _stop: DropGuard,
}

/// Checks the session now (a socket is refused for an ended one) and starts watching it.
pub(super) async fn start(app: &AppState, token: &VerifiedToken, session: Uuid) -> Option<Watch> {
    let operator = token.claims.act.as_ref()?.sub.clone();
    // Subscribed before the check, so nothing sent after it is missed.
    let mut events = app.events.subscribe();
    let mut conn = app.pool.get().await.ok()?;
    let open = impersonation::open_session(&mut conn, session, &token.claims.sub, &operator)
        .await
        .ok()?;
    drop(conn);
    open.as_ref()?;
    let closed = CancellationToken::new();
    let stop = CancellationToken::new();
    let pool = app.pool.clone();
    let task = tokio::spawn({
        let closed = closed.clone();
        let stop = stop.clone();
        async move {
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => return,
                    event = events.recv() => event,
                };
                match event {
                    Ok(Event::ImpersonationEnded(id)) if id == session => {}
                    Ok(Event::UserChanged(_) | Event::Resync) | Err(RecvError::Lagged(_)) => {}
                    Ok(_) => continue,
                    Err(RecvError::Closed) => return,
                }
                let still = async {
                    let mut conn = pool.get().await?;
                    impersonation::still_open(&mut conn, session).await
                }
                .await;
                match still {
                    Ok(true) => {}
                    Ok(false) => {
                        closed.cancel();
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot re-check an impersonation session")
                    }
                }
            }
        }
    });
    Some(Watch {
        closed,
        _task: task,
        _stop: stop.drop_guard(),
    })
}

/// Resolves when the watched session has ended; never without a watch.
pub(super) async fn closed(watch: Option<&Watch>) {
    match watch {
        Some(w) => w.closed.cancelled().await,
        None => std::future::pending().await,
    }
}
