//! What tenant provisioning ([`crate::domain::provisioning`]) and member operations
//! ([`crate::domain::members`]) share: a step's status, the events their logs append, how
//! one attempt of a step job settles, and when a run is over. Each keeps its own tables (a
//! tenant's steps and a member's steps), the SQL over them and its upstream work.

use std::time::Duration;

use crate::domain::jobs::{ClaimedJob, Settle};
use crate::metrics::JobOutcome;

crate::text_enum! {
    /// Where a provisioning step stands.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "ProvisioningStatus")]
    pub enum StepStatus {
        /// Queued, or waiting for its next attempt after a failure.
        Pending = "pending",
        /// A worker is on it.
        Running = "running",
        /// Done: the upstream object exists.
        Ok = "ok",
        /// Nothing to do: the upstream is not configured, or the tenant does not need it.
        Skipped = "skipped",
        /// Failed after its last attempt; `reconcileTenant` or `retryProvisioningStep` re-runs it.
        Error = "error",
    }
}

impl StepStatus {
    /// Whether the step is done with (for this run).
    pub const fn is_settled(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

/// An event to append to a step log: of one step, or of the run as a whole.
#[derive(Debug, Clone)]
pub struct NewEvent<S> {
    /// The step, or `None` for the run as a whole.
    pub step: Option<S>,
    /// Its status.
    pub status: StepStatus,
    /// For people.
    pub message: String,
    /// The last event of a run.
    pub terminal: bool,
}

impl<S> NewEvent<S> {
    /// An event of `step`.
    pub fn step(step: S, status: StepStatus, message: impl Into<String>) -> Self {
        Self {
            step: Some(step),
            status,
            message: message.into(),
            terminal: false,
        }
    }

    /// The event that ends a run.
    pub fn end(status: StepStatus, message: impl Into<String>) -> Self {
        Self {
            step: None,
            status,
            message: message.into(),
            terminal: true,
        }
    }
}

/// The message of a step's `running` event.
pub fn started(attempt: i32, max_attempts: i32) -> String {
    if attempt == 1 {
        "started".to_owned()
    } else {
        format!("attempt {attempt} of {max_attempts}")
    }
}

/// What one attempt of a step came to.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// The upstream object is as it should be.
    Done,
    /// Nothing to do, and why.
    Skipped(&'a str),
    /// It failed; whether another attempt may help.
    Failed {
        /// For people (and the step's `last_error`).
        message: &'a str,
        /// Whether to try again (until the job's last attempt).
        retryable: bool,
    },
}

/// How an attempt settles: the step's status and error, its event, the job's settlement.
#[derive(Debug)]
pub struct Settled<'a, S> {
    /// The step's new status.
    pub status: StepStatus,
    /// The step's `last_error` (cleared when `None`).
    pub last_error: Option<&'a str>,
    /// The step's event.
    pub event: NewEvent<S>,
    /// How the job settles.
    pub settle: Settle,
    /// For the metrics.
    pub outcome: JobOutcome,
}

/// How `attempt` of `step` settles: `ok` / `skipped`, `pending` again after `backoff()` for
/// a retryable failure before the job's last attempt, else `error` (a dead job).
pub fn settle<'a, S>(
    step: S,
    job: &ClaimedJob,
    attempt: Attempt<'a>,
    backoff: impl FnOnce() -> Duration,
) -> Settled<'a, S> {
    let n = job.attempts;
    match attempt {
        Attempt::Done => Settled {
            status: StepStatus::Ok,
            last_error: None,
            event: NewEvent::step(step, StepStatus::Ok, "done"),
            settle: Settle::Done,
            outcome: JobOutcome::Done,
        },
        Attempt::Skipped(why) => Settled {
            status: StepStatus::Skipped,
            last_error: None,
            event: NewEvent::step(step, StepStatus::Skipped, why),
            settle: Settle::Done,
            outcome: JobOutcome::Done,
        },
        Attempt::Failed { message, retryable } if retryable && !job.is_last_attempt() => {
            let delay = backoff();
            Settled {
                status: StepStatus::Pending,
                last_error: Some(message),
                event: NewEvent::step(
                    step,
                    StepStatus::Pending,
                    format!(
                        "attempt {n} failed ({message}); retrying in {} ms",
                        delay.as_millis()
                    ),
                ),
                settle: Settle::RetryAfter(delay, message.to_owned()),
                outcome: JobOutcome::Retried,
            }
        }
        Attempt::Failed { message, .. } => Settled {
            status: StepStatus::Error,
            last_error: Some(message),
            event: NewEvent::step(step, StepStatus::Error, message),
            settle: Settle::Dead(message.to_owned()),
            outcome: JobOutcome::Dead,
        },
    }
}

/// `None` while a step of the run is pending or running; else the steps that failed.
pub fn failed_once_settled<S>(steps: impl IntoIterator<Item = (S, StepStatus)>) -> Option<Vec<S>> {
    let mut failed = Vec::new();
    for (step, status) in steps {
        if !status.is_settled() {
            return None;
        }
        if status == StepStatus::Error {
            failed.push(step);
        }
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_ends_when_every_step_settled() {
        use StepStatus::*;
        assert_eq!(failed_once_settled([(1, Ok), (2, Running)]), None);
        assert_eq!(failed_once_settled([(1, Ok), (2, Skipped)]), Some(vec![]));
        assert_eq!(
            failed_once_settled([(1, Error), (2, Ok), (3, Error)]),
            Some(vec![1, 3])
        );
        assert_eq!(started(1, 5), "started");
        assert_eq!(started(2, 5), "attempt 2 of 5");
    }
}
