//! Statements whose future was dropped (request timeout, client gone) must not keep running,
//! and their connection must not serve anyone else meanwhile.
//!
//! A dropped diesel-async future leaves its statement running on the server; tokio-postgres
//! queues the next statement of that connection behind it. So every pooled connection counts
//! its statements in flight ([`ConnState`], fed by the connection's instrumentation: a start
//! without a finish is a statement whose future was dropped), and
//! - the pool's recycle check ([`is_reusable`]) refuses a connection with a statement in
//!   flight: it is discarded (and its statement cancelled) instead of being handed out;
//! - a request runs inside [`track`]: when its future is dropped before it finished, the
//!   statements it left behind are cancelled at once (`pg_cancel_backend` through the
//!   connection's cancel token), not when the pool next looks at the connection.
//!
//! Statements run by tasks a request spawned (none today outside DataLoader batches) are not
//! seen by [`track`]; the recycle check still keeps their connection out of the pool.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::CancelToken;

/// What one pooled connection tells about its statements.
pub struct ConnState {
    in_flight: AtomicUsize,
    cancel: CancelToken,
}

impl ConnState {
    /// The state of a new connection, with its cancel token.
    pub fn new(cancel: CancelToken) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            cancel,
        })
    }

    /// A statement was started (its future was created).
    pub fn started(self: &Arc<Self>) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let _ = REQUEST.try_with(|r| r.record(self, 1));
        let _ = OPERATION.try_with(|n| n.fetch_add(1, Ordering::Relaxed));
    }

    /// A statement finished (its future completed, with or without an error).
    pub fn finished(self: &Arc<Self>) {
        // Saturating: never below zero, whatever diesel reports.
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        let _ = REQUEST.try_with(|r| r.record(self, -1));
    }

    /// Statements started and not finished: above zero on a connection at rest, a dropped
    /// future left its statement behind.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Asks the server to cancel whatever this connection runs, in the background.
    pub fn cancel(&self) {
        let token = self.cancel.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = token.cancel_query(tokio_postgres::NoTls).await {
                    tracing::warn!(error = %e, "could not cancel an abandoned statement");
                }
            });
        }
    }
}

/// Whether a connection returned to the pool may be handed out again; if not, its abandoned
/// statement is cancelled (the connection is then discarded by the pool).
pub fn is_reusable(state: &ConnState) -> bool {
    if state.in_flight() == 0 {
        return true;
    }
    tracing::debug!("discarding a pooled connection whose statement was abandoned");
    state.cancel();
    false
}

tokio::task_local! {
    static REQUEST: Arc<Tracker>;
    static OPERATION: Arc<std::sync::atomic::AtomicU64>;
}

/// Runs `work` (one GraphQL operation) and counts the statements it sends from its own task
/// (DataLoader batches included: [`crate::graphql::batch`] runs them in the request's task).
pub async fn counting<F: Future>(work: F) -> (F::Output, u64) {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let output = OPERATION.scope(Arc::clone(&count), work).await;
    (output, count.load(Ordering::Relaxed))
}

/// The statements one request has in flight, per connection.
#[derive(Default)]
struct Tracker {
    conns: Mutex<HashMap<usize, (Arc<ConnState>, isize)>>,
}

impl Tracker {
    fn record(&self, conn: &Arc<ConnState>, delta: isize) {
        let key = Arc::as_ptr(conn) as usize;
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let entry = conns.entry(key).or_insert_with(|| (Arc::clone(conn), 0));
        entry.1 += delta;
        if entry.1 <= 0 {
            conns.remove(&key);
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let conns = self.conns.get_mut().unwrap_or_else(|p| p.into_inner());
        for (conn, mine) in conns.values() {
            // Ours and unfinished: the connection is never reused (its count stays above
            // zero), so the cancel cannot hit another request's statement.
            if *mine > 0 {
                tracing::debug!("cancelling a statement of a request that was dropped");
                conn.cancel();
            }
        }
    }
}

/// Runs `work` (one request) so that the statements it leaves running when it is dropped
/// before finishing are cancelled at once.
pub async fn track<F: Future>(work: F) -> F::Output {
    REQUEST.scope(Arc::new(Tracker::default()), work).await
}
