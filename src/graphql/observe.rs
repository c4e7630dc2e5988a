//! Records one metric sample per GraphQL operation: its kind, latency and whether it failed.
//! Operations over HTTP are timed by the `request` hook; operations over a WebSocket (any
//! kind) are streams, recorded when their stream ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::metrics::{Metrics, OperationKind};

/// Factory for the metrics extension.
pub struct Observe(Arc<Metrics>);

impl Observe {
    /// Records into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self(metrics)
    }
}

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension {
            metrics: Arc::clone(&self.0),
            state: Arc::default(),
        })
    }
}

#[derive(Default)]
struct State {
    operation_name: Option<String>,
    kind: Option<OperationKind>,
}

struct ObserveExtension {
    metrics: Arc<Metrics>,
    state: Arc<Mutex<State>>,
}

fn kind_of(ty: OperationType) -> OperationKind {
    match ty {
        OperationType::Query => OperationKind::Query,
        OperationType::Mutation => OperationKind::Mutation,
        OperationType::Subscription => OperationKind::Subscription,
    }
}

fn recorded_kind(state: &Mutex<State>) -> OperationKind {
    state
        .lock()
        .map_or(None, |s| s.kind)
        .unwrap_or(OperationKind::Invalid)
}

/// Records a streamed operation when its stream is dropped (finished or cancelled).
struct StreamRecord {
    metrics: Arc<Metrics>,
    state: Arc<Mutex<State>>,
    started: Instant,
    had_errors: AtomicBool,
}

impl Drop for StreamRecord {
    fn drop(&mut self) {
        let kind = recorded_kind(&self.state);
        self.metrics.record_operation(
            kind,
            self.started.elapsed(),
            self.had_errors.load(Ordering::Relaxed),
        );
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let kind = recorded_kind(&self.state);
        self.metrics
            .record_operation(kind, started.elapsed(), !response.errors.is_empty());
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let record = StreamRecord {
            metrics: Arc::clone(&self.metrics),
            state: Arc::clone(&self.state),
            started: Instant::now(),
            had_errors: AtomicBool::new(false),
        };
        next.run(ctx, stream)
            .inspect(move |response| {
                if !response.errors.is_empty() {
                    record.had_errors.store(true, Ordering::Relaxed);
                }
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut state) = self.state.lock() {
            state.operation_name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut state) = self.state.lock() {
            let ty = match (&document.operations, state.operation_name.as_deref()) {
                (DocumentOperations::Single(op), _) => Some(op.node.ty),
                (DocumentOperations::Multiple(ops), Some(name)) => ops
                    .iter()
                    .find(|(n, _)| n.as_str() == name)
                    .map(|(_, op)| op.node.ty),
                (DocumentOperations::Multiple(ops), None) => ops
                    .values()
                    .next()
                    .filter(|_| ops.len() == 1)
                    .map(|op| op.node.ty),
            };
            state.kind = ty.map(kind_of);
        }
        Ok(document)
    }
}
