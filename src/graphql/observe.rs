//! Records one metric sample per GraphQL operation: its kind, latency and whether it failed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextSubscribe,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
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
            state: Mutex::default(),
        })
    }
}

#[derive(Default)]
struct State {
    /// Operation types of the parsed document, by name (`None` for an anonymous one).
    operations: Vec<(Option<String>, OperationType)>,
    kind: Option<OperationKind>,
}

struct ObserveExtension {
    metrics: Arc<Metrics>,
    state: Mutex<State>,
}

fn kind_of(ty: OperationType) -> OperationKind {
    match ty {
        OperationType::Query => OperationKind::Query,
        OperationType::Mutation => OperationKind::Mutation,
        OperationType::Subscription => OperationKind::Subscription,
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let kind = self
            .state
            .lock()
            .map_or(None, |s| s.kind)
            .unwrap_or(OperationKind::Invalid);
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
        self.metrics.record_operation(
            OperationKind::Subscription,
            std::time::Duration::ZERO,
            false,
        );
        next.run(ctx, stream)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operations = match &document.operations {
            DocumentOperations::Single(op) => vec![(None, op.node.ty)],
            DocumentOperations::Multiple(ops) => ops
                .iter()
                .map(|(name, op)| (Some(name.to_string()), op.node.ty))
                .collect(),
        };
        if let Ok(mut state) = self.state.lock() {
            state.operations = operations;
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Ok(mut state) = self.state.lock() {
            let found = match operation_name {
                Some(name) => state
                    .operations
                    .iter()
                    .find(|(n, _)| n.as_deref() == Some(name)),
                None => state.operations.first(),
            };
            state.kind = found.map(|(_, ty)| kind_of(*ty));
        }
        next.run(ctx, operation_name).await
    }
}
