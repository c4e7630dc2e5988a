//! `MaybeUndefined` (omitted, `null`, or a value) as the domain's [`Patch`].

use async_graphql::MaybeUndefined;

use crate::domain::patch::Patch;

/// An omitted field keeps, `null` clears, a value sets.
pub fn patch<T>(value: MaybeUndefined<T>) -> Patch<T> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(v),
    }
}
