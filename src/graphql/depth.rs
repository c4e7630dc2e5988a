//! The depth limit, enforced right after parsing (before validation and execution).
//!
//! async-graphql's own `limit_depth` also counts introspection, whose standard query (the one
//! GraphiQL and code generators send) nests `ofType` nine levels deep and so could never pass
//! a limit of 12. Introspection subtrees (`__schema`, `__type`) are therefore not counted
//! here: their shape is fixed by the schema, they touch no data, they stay bounded by the
//! parser's recursion limit, and introspection is off in production.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Factory for the depth-limit extension.
pub struct DepthLimit(pub usize);

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DepthLimitExtension(self.0))
    }
}

struct DepthLimitExtension(usize);

#[async_graphql::async_trait::async_trait]
impl Extension for DepthLimitExtension {
    fn resolves_fields(&self) -> bool {
        false // request-level hooks only: nothing per field
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if depth(&document) > self.0 {
            return Err(ServerError::new("Query is nested too deep.", None));
        }
        Ok(document)
    }
}

/// The deepest field nesting of any operation in the document, not counting introspection.
/// A top-level leaf field has depth 1.
pub fn depth(document: &ExecutableDocument) -> usize {
    document
        .operations
        .iter()
        .map(|(_, op)| selection_depth(document, &op.node.selection_set.node, &mut HashSet::new()))
        .max()
        .unwrap_or(0)
}

fn selection_depth<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    visiting: &mut HashSet<&'a str>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                if name.starts_with("__") {
                    0
                } else {
                    1 + selection_depth(document, &field.node.selection_set.node, visiting)
                }
            }
            Selection::InlineFragment(fragment) => {
                selection_depth(document, &fragment.node.selection_set.node, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match document.fragments.get(&spread.node.fragment_name.node) {
                    // A cycle is invalid GraphQL; validation reports it, depth stops here.
                    Some(fragment) if visiting.insert(name) => {
                        let d =
                            selection_depth(document, &fragment.node.selection_set.node, visiting);
                        visiting.remove(name);
                        d
                    }
                    _ => 0,
                }
            }
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(query: &str) -> usize {
        depth(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn counts_field_nesting() {
        assert_eq!(depth_of("{ a }"), 1);
        assert_eq!(depth_of("{ a { b { c } } d }"), 3);
        assert_eq!(depth_of("query A { a } query B { a { b } }"), 2);
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        assert_eq!(depth_of("{ a { ...F } } fragment F on T { b { c } }"), 3);
        assert_eq!(depth_of("{ a { ... on T { b } } }"), 2);
    }

    #[test]
    fn introspection_is_not_counted() {
        assert_eq!(
            depth_of("{ __schema { types { fields { type { ofType { ofType { name } } } } } } }"),
            0
        );
        assert_eq!(depth_of("{ a { __typename } }"), 1);
    }

    #[test]
    fn fragment_cycles_terminate() {
        assert_eq!(depth_of("{ a { ...F } } fragment F on T { b { ...F } }"), 2);
    }
}
