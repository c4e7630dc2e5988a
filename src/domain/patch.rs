//! A field of an update input that may be left alone, cleared, or set.

/// A field that may be left alone, cleared, or set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave as it is.
    #[default]
    Keep,
    /// Set to null.
    Clear,
    /// Set to the value.
    Set(T),
}

impl<T> Patch<T> {
    /// Whether the patch changes anything.
    pub fn changes(&self) -> bool {
        !matches!(self, Self::Keep)
    }

    /// Converts the value, keeping `Keep` and `Clear`.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Self::Keep => Patch::Keep,
            Self::Clear => Patch::Clear,
            Self::Set(v) => Patch::Set(f(v)?),
        })
    }

    /// The diesel changeset form: `None` keeps, `Some(None)` clears, `Some(Some(v))` sets.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Self::Keep => None,
            Self::Clear => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }
}
