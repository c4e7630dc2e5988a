//! Relay connections over keyset cursors.
//!
//! A list field takes `first/after` (forward) or `last/before` (backward), parses them with
//! [`PageRequest::parse`], fetches `limit + 1` rows past the cursor in the request's
//! direction, and hands them to [`PageRequest::connection`]. Cursors are opaque
//! (`base64url(json(sort key))`); a malformed one is `BAD_USER_INPUT` on its argument.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ObjectType, OutputType, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::GraphqlLimits;
use crate::error::AppError;

/// Page size limits, from configuration (schema-wide data: the same for every caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Page size when neither `first` nor `last` is given.
    pub default: usize,
    /// Largest page accepted.
    pub max: usize,
}

impl From<&GraphqlLimits> for PageLimits {
    fn from(limits: &GraphqlLimits) -> Self {
        Self {
            default: limits.default_page_size,
            max: limits.max_page_size,
        }
    }
}

/// Which way a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`: ascending in the list's order, starting after the cursor.
    Forward,
    /// `last`/`before`: the rows just before the cursor (fetched descending, then reversed).
    Backward,
}

/// A validated page request, generic over the list's sort key `K`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    /// Read direction.
    pub direction: Direction,
    /// How many rows the page holds (fetch `limit + 1` to learn whether more exist).
    pub limit: usize,
    /// The sort key to start after (forward) or before (backward).
    pub cursor: Option<K>,
}

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

    /// Builds the connection from the rows fetched for this request: up to `limit + 1` rows,
    /// in the request's direction (descending for backward pages). `key` gives a row's sort key.
    pub fn connection<T: OutputType>(
        &self,
        rows: Vec<T>,
        total_count: i64,
        key: impl Fn(&T) -> K,
    ) -> Connection<String, T, ConnectionFields> {
        self.connection_with(rows, ConnectionFields { total_count }, key)
    }

    /// Like [`Self::connection`], with any object's fields added to the connection type
    /// (e.g. a lazily computed `totalCount`).
    pub fn connection_with<T: OutputType, F: ObjectType>(
        &self,
        mut rows: Vec<T>,
        fields: F,
        key: impl Fn(&T) -> K,
    ) -> Connection<String, T, F> {
        let has_more = rows.len() > self.limit;
        rows.truncate(self.limit);
        let (has_previous, has_next) = match self.direction {
            Direction::Forward => (self.cursor.is_some(), has_more),
            Direction::Backward => {
                rows.reverse();
                (has_more, self.cursor.is_some())
            }
        };
        let mut connection = Connection::with_additional_fields(has_previous, has_next, fields);
        connection.edges = rows
            .into_iter()
            .map(|row| Edge::new(encode_cursor(&key(&row)), row))
            .collect();
        connection
    }
}

/// The opaque cursor for a sort key.
pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Decodes a cursor; anything malformed is `BAD_USER_INPUT` on `field`.
pub fn decode_cursor<K: DeserializeOwned>(raw: &str, field: &str) -> Result<K, AppError> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::bad_input(field, format!("`{field}` is not a valid cursor")))
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
            conn.edges.iter().map(|e| e.node).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(conn.has_next_page);
        assert!(!conn.has_previous_page);
        let last = parse(Some(2), None, None, None)
            .unwrap()
            .connection(vec![1i64, 2], 2, |n| (*n, String::new()));
        assert!(!last.has_next_page);
    }

    #[test]
    fn backward_pages_come_back_in_list_order() {
        let c = encode_cursor(&(10i64, String::new()));
        let req = parse(None, None, Some(2), Some(&c)).unwrap();
        // Fetched descending from the cursor: 9, 8, 7 (one extra).
        let conn = req.connection(vec![9i64, 8, 7], 9, |n| (*n, String::new()));
        assert_eq!(
            conn.edges.iter().map(|e| e.node).collect::<Vec<_>>(),
            vec![8, 9]
        );
        assert!(conn.has_previous_page);
        assert!(conn.has_next_page);
    }
}
