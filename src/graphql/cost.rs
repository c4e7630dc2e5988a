//! The size of a document once its fragment spreads are expanded, computed in one linear
//! pass before async-graphql's own checks run.
//!
//! async-graphql's recursion-depth check and several validation rules walk into a fragment
//! each time it is spread, so a small document of fragments that each spread the next one
//! twice (`fragment F1 on Query { ...F2 ...F2 }` … 40 levels) makes them do 2^40 steps.
//! Here each fragment's expanded size is computed once (memoised, cycles cut) and the
//! document is refused when the total exceeds the limit, so everything that runs afterwards
//! walks at most that many selections.

use std::collections::HashMap;

use async_graphql::Name;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The number of selections (fields, inline fragments and spreads) the document's
/// operations and fragment definitions hold once every spread is replaced by its fragment.
/// Saturates instead of overflowing.
pub fn expanded_selections(document: &ExecutableDocument) -> u64 {
    let mut sizes = Sizes {
        document,
        memo: HashMap::new(),
    };
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| sizes.of_set(&op.node.selection_set.node))
        .fold(0u64, u64::saturating_add);
    // Validation also walks each fragment definition once on its own.
    let definitions = document
        .fragments
        .keys()
        .map(|name| sizes.of_fragment(name))
        .fold(0u64, u64::saturating_add);
    operations.saturating_add(definitions)
}

enum State {
    /// Being computed: a spread reaching it again is a cycle (invalid; validation says so).
    Visiting,
    Done(u64),
}

struct Sizes<'a> {
    document: &'a ExecutableDocument,
    memo: HashMap<&'a Name, State>,
}

impl<'a> Sizes<'a> {
    fn of_fragment(&mut self, name: &'a Name) -> u64 {
        match self.memo.get(name) {
            Some(State::Done(size)) => return *size,
            Some(State::Visiting) => return 0,
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        self.memo.insert(name, State::Visiting);
        let size = self.of_set(&fragment.node.selection_set.node);
        self.memo.insert(name, State::Done(size));
        size
    }

    fn of_set(&mut self, set: &'a SelectionSet) -> u64 {
        set.items
            .iter()
            .map(|item| {
                let inner = match &item.node {
                    Selection::Field(field) => self.of_set(&field.node.selection_set.node),
                    Selection::InlineFragment(fragment) => {
                        self.of_set(&fragment.node.selection_set.node)
                    }
                    Selection::FragmentSpread(spread) => {
                        self.of_fragment(&spread.node.fragment_name.node)
                    }
                };
                inner.saturating_add(1)
            })
            .fold(0u64, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(query: &str) -> u64 {
        expanded_selections(&async_graphql::parser::parse_query(query).unwrap())
    }

    /// `levels` fragments, each spreading the next one twice.
    pub fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("{ ...F1 }\n");
        for i in 1..levels {
            query.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        query.push_str(&format!("fragment F{levels} on Query {{ apiVersion }}\n"));
        query
    }

    #[test]
    fn counts_fields_and_spreads() {
        assert_eq!(size("{ a }"), 1);
        assert_eq!(size("{ a { b c } d }"), 4);
        // The spread (1) plus the fragment's field (1), and the definition itself (1).
        assert_eq!(size("{ ...F } fragment F on Q { a }"), 3);
        assert_eq!(size("{ ... on Q { a } }"), 2);
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        let started = std::time::Instant::now();
        assert!(size(&fragment_bomb(40)) > 1u64 << 39);
        assert!(size(&fragment_bomb(100)) == u64::MAX);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn cycles_terminate() {
        assert_eq!(size("{ ...F } fragment F on Q { a ...F }"), 5);
    }
}
