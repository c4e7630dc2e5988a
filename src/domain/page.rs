//! Pages of a list read by keyset: a direction, a size and a cursor (the sort key of the row
//! to start after), and the opaque cursor encoding. The GraphQL edge turns Relay arguments into
//! a [`PageRequest`] (`graphql::pagination`); the SQL of each area reads `limit + 1` rows past
//! the cursor in the page's direction.

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

impl<K> PageRequest<K> {
    /// How many rows to fetch: one more than the page, to learn whether more exist.
    pub fn fetch(&self) -> i64 {
        fetch_limit(self.limit)
    }
}

/// `limit + 1` as a SQL `LIMIT`.
pub fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
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

/// A LIKE pattern matching `text` anywhere, with `%`, `_` and `\` escaped.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
