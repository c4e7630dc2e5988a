//! Billing: the plan catalogue, subscriptions, invoices and the Stripe webhook.

mod invoices;
mod plans;
mod subscriptions;
mod webhook;
