//! Relay connections over keyset cursors: the edge between Relay arguments and the domain's
//! [`PageRequest`] (`crate::domain::page`).
//!
//! A list field takes `first/after` (forward) or `last/before` (backward), parses them with
//! [`PageRequest::parse`], fetches `limit + 1` rows past the cursor in the request's
//! direction, and hands them to [`PageRequest::connection`]. Cursors are opaque
//! (`base64url(json(sort key))`); a malformed one is `BAD_USER_INPUT` on its argument.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::domain::page::{Direction, PageLimits, PageRequest, decode_cursor, encode_cursor};
use crate::error::AppError;

/// Fields every connection carries besides edges and page info.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionFields {
    /// How many items the whole list holds (ignoring pagination).
    pub total_count: i64,
}

impl<K: Serialize + DeserializeOwned> PageRequest<K> {
    /// Validates Relay arguments.
    pub fn parse(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        limits: PageLimits,
    ) -> Result<Self, AppError> {
        let size = |value: i32, field: &str| -> Result<usize, AppError> {
            let n = usize::try_from(value).map_err(|_| {
                AppError::bad_input(field, format!("`{field}` must not be negative"))
            })?;
            if n > limits.max {
                return Err(AppError::bad_input(
                    field,
                    format!("`{field}` must be at most {}", limits.max),
                ));
            }
            Ok(n)
        };
        match (first, last) {
            (Some(_), Some(_)) => Err(AppError::bad_input(
                "last",
                "use either `first`/`after` or `last`/`before`, not both",
            )),
            (_, Some(_)) if after.is_some() => Err(AppError::bad_input(
                "after",
                "`after` goes with `first`, not with `last`",
            )),
            (Some(_), _) if before.is_some() => Err(AppError::bad_input(
                "before",
                "`before` goes with `last`, not with `first`",
            )),
            (None, Some(last)) => Ok(Self {
                direction: Direction::Backward,
                limit: size(last, "last")?,
                cursor: before.map(|c| decode_cursor(&c, "before")).transpose()?,
            }),
            (None, None) if before.is_some() => Ok(Self {
                direction: Direction::Backward,
                limit: limits.default,
                cursor: before.map(|c| decode_cursor(&c, "before")).transpose()?,
            }),
            (first, None) => Ok(Self {
                direction: Direction::Forward,
                limit: first.map_or(Ok(limits.default), |f| size(f, "first"))?,
                cursor: after.map(|c| decode_cursor(&c, "after")).transpose()?,
            }),
        }
    }

    /// Builds the page from the rows fetched for this request: up to `limit + 1` rows,
    /// in the request's direction (descending for backward pages). `key` gives a row's sort key.
    pub fn connection<T: OutputType>(
        &self,
        rows: Vec<T>,
        total_count: i64,
        key: impl Fn(&T) -> K,
    ) -> Paged<T, ConnectionFields> {
        self.connection_with(rows, ConnectionFields { total_count }, key)
    }

    /// Like [`Self::connection`], with the connection's `totalCount` from `count` (e.g.
    /// computed only when selected).
    pub fn connection_with<T: OutputType, C>(
        &self,
        mut rows: Vec<T>,
        count: C,
        key: impl Fn(&T) -> K,
    ) -> Paged<T, C> {
        let has_more = rows.len() > self.limit;
        rows.truncate(self.limit);
        let (has_previous, has_next) = match self.direction {
            Direction::Forward => (self.cursor.is_some(), has_more),
            Direction::Backward => {
                rows.reverse();
                (has_more, self.cursor.is_some())
            }
        };
        let mut connection = Connection::new(has_previous, has_next);
        connection.edges = rows
            .into_iter()
            .map(|row| Edge::new(encode_cursor(&key(&row)), row))
            .collect();
        Paged { connection, count }
    }
}

/// One page of a list: the Relay connection and where its `totalCount` comes from.
pub struct Paged<T: OutputType, C> {
    /// Edges and page info.
    pub connection: Connection<String, T>,
    /// The `totalCount` source (a `CountSource`).
    pub count: C,
}

#[cfg(test)]
mod tests {
    use super::*;

    type Key = (i64, String);
    const LIMITS: PageLimits = PageLimits {
        default: 20,
        max: 100,
    };

    fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<PageRequest<Key>, AppError> {
        PageRequest::parse(
            first,
            after.map(Into::into),
            last,
            before.map(Into::into),
            LIMITS,
        )
    }

    fn field_of(err: AppError) -> String {
        match err {
            AppError::BadUserInput { field, .. } => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn defaults_to_a_forward_page_of_the_default_size() {
        let req = parse(None, None, None, None).unwrap();
        assert_eq!(
            (req.direction, req.limit, req.cursor),
            (Direction::Forward, 20, None)
        );
    }

    #[test]
    fn page_size_is_capped() {
        assert_eq!(parse(Some(100), None, None, None).unwrap().limit, 100);
        assert_eq!(
            field_of(parse(Some(101), None, None, None).unwrap_err()),
            "first"
        );
        assert_eq!(
            field_of(parse(None, None, Some(101), None).unwrap_err()),
            "last"
        );
        assert_eq!(
            field_of(parse(Some(-1), None, None, None).unwrap_err()),
            "first"
        );
    }

    #[test]
    fn mixed_directions_are_refused() {
        assert_eq!(
            field_of(parse(Some(1), None, Some(1), None).unwrap_err()),
            "last"
        );
        let c = encode_cursor(&(1i64, "a".to_string()));
        assert_eq!(
            field_of(parse(None, Some(&c), Some(1), None).unwrap_err()),
            "after"
        );
        assert_eq!(
            field_of(parse(Some(1), None, None, Some(&c)).unwrap_err()),
            "before"
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key: Key = (42, "x".into());
        let c = encode_cursor(&key);
        assert_eq!(
            parse(Some(5), Some(&c), None, None).unwrap().cursor,
            Some(key)
        );
        assert_eq!(
            field_of(parse(Some(5), Some("!!"), None, None).unwrap_err()),
            "after"
        );
        let wrong_shape = encode_cursor(&"just a string");
        assert_eq!(
            field_of(parse(None, None, Some(5), Some(&wrong_shape)).unwrap_err()),
            "before"
        );
    }

    #[test]
    fn forward_pages_report_more_when_an_extra_row_came_back() {
        let req = parse(Some(2), None, None, None).unwrap();
        let conn = req.connection(vec![1i64, 2, 3], 3, |n| (*n, String::new()));
        assert_eq!(
            conn.connection
                .edges
                .iter()
                .map(|e| e.node)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(conn.connection.has_next_page);
        assert!(!conn.connection.has_previous_page);
        let last = parse(Some(2), None, None, None)
            .unwrap()
            .connection(vec![1i64, 2], 2, |n| (*n, String::new()));
        assert!(!last.connection.has_next_page);
    }

    #[test]
    fn backward_pages_come_back_in_list_order() {
        let c = encode_cursor(&(10i64, String::new()));
        let req = parse(None, None, Some(2), Some(&c)).unwrap();
        // Fetched descending from the cursor: 9, 8, 7 (one extra).
        let conn = req.connection(vec![9i64, 8, 7], 9, |n| (*n, String::new()));
        assert_eq!(
            conn.connection
                .edges
                .iter()
                .map(|e| e.node)
                .collect::<Vec<_>>(),
            vec![8, 9]
        );
        assert!(conn.connection.has_previous_page);
        assert!(conn.connection.has_next_page);
    }
}
