//! Money: integer minor units plus an ISO 4217 currency, never floats.

use async_graphql::SimpleObject;

use crate::graphql::scalars::Long;

/// An amount of money.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// The amount in the currency's minor unit (cents for EUR and USD).
    pub amount_minor: Long,
    /// ISO 4217 currency code, e.g. `EUR`.
    pub currency: String,
}
