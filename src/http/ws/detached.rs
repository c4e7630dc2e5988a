//! Runs each WebSocket operation in a task of its own, so that a client that stops reading
//! cannot park other people's database connections.
//!
//! async-graphql's protocol machine polls every operation of a connection from the one
//! stream the socket writer pulls. While the writer waits for a slow client (up to
//! `WS_SEND_TIMEOUT_MS`), nothing is polled, and an operation that had taken a pooled
//! connection and was waiting for PostgreSQL kept it: a few operations on one slow socket
//! held the whole pool. Here each operation runs to its next result in its own task and
//! hands it over through a channel of one; it waits for the writer only between results,
//! when it holds no connection. Memory stays bounded: one finished result per operation
//! (at most `MAX_OPERATIONS` per connection). Closing the socket or completing the operation
//! drops the receiver, which ends the task.

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::db::DbPool;
use crate::graphql::ApiSchema;
use crate::graphql::loaders::Loaders;

/// The schema, with each streamed operation detached into its own task.
#[derive(Clone)]
pub struct Detached {
    schema: ApiSchema,
    pool: DbPool,
}

impl Detached {
    /// Wraps the schema; operations get their own loaders on `pool`.
    pub fn new(schema: ApiSchema, pool: DbPool) -> Self {
        Self { schema, pool }
    }
}

impl Executor for Detached {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let schema = self.schema.clone();
        async move { schema.execute(request).await }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        // Loaders of its own: the operation's batches are gathered in its own task.
        let request = request.data(Loaders::new(self.pool.clone()));
        let mut inner = Executor::execute_stream(&self.schema, request, session_data);
        // Boxed responses: tokio allocates a channel's slots 32 at a time, so a channel of
        // `Response`s would cost about 7.7 KiB per operation even with room for one.
        let (tx, rx) = tokio::sync::mpsc::channel::<Box<Response>>(1);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    next = inner.next() => match next {
                        Some(response) => {
                            if tx.send(Box::new(response)).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                }
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|response| (*response, rx))
        })
        .boxed()
    }
}
