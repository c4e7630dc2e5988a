//! Billing: the Stripe webhook.

mod webhook;
