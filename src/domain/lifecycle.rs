//! Status moves shared by every area with a lifecycle (tenants, partners, and later members):
//! which moves exist, from which statuses, the refusal that names the current status and the
//! moves allowed from it, the reason's validation and the audit details. Each area declares its
//! moves with [`Lifecycle`] and keeps only its own side effects.

use std::fmt::Display;

use serde_json::json;

use crate::domain::audit::AuditEntry;
use crate::domain::values;
use crate::error::{AppError, AppResult};

/// A set of status moves of one kind of object.
pub trait Lifecycle: Copy + PartialEq + 'static {
    /// The object's status.
    type Status: Copy + PartialEq + Display;
    /// The object, for messages ("tenant").
    const NOUN: &'static str;
    /// Every move.
    const ALL: &'static [Self];

    /// The dotted audit action, e.g. `tenant.suspend`.
    fn action(self) -> &'static str;
    /// The past participle, for messages ("suspended").
    fn done(self) -> &'static str;
    /// The statuses the move starts from.
    fn from(self) -> &'static [Self::Status];
    /// The status it ends in.
    fn to(self) -> Self::Status;
}

/// A move that may happen: where from, where to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move<S> {
    /// The status before.
    pub from: S,
    /// The status after.
    pub to: S,
    /// Why (validated).
    pub reason: Option<String>,
}

/// Checks `movement` from `current` with `reason` and fills the audit details
/// (`from`, `to`, `reason`). A move that is not allowed is `BAD_USER_INPUT` on `field`, with a
/// message that names the current status and what can be done from it.
pub fn plan<L: Lifecycle>(
    movement: L,
    current: L::Status,
    reason: Option<String>,
    field: &str,
    audit: &mut AuditEntry,
) -> AppResult<Move<L::Status>> {
    let reason = values::reason(reason, "input.reason")?;
    if !movement.from().contains(&current) {
        return Err(AppError::bad_input(field, refusal(movement, current)));
    }
    let to = movement.to();
    audit.details = json!({ "from": current.to_string(), "to": to.to_string(), "reason": reason });
    Ok(Move {
        from: current,
        to,
        reason,
    })
}

/// "The tenant is suspended, so it cannot be suspended; from suspended it can be resumed or
/// terminated." (or "…; nothing can change it any more" for a final status).
fn refusal<L: Lifecycle>(movement: L, current: L::Status) -> String {
    let allowed: Vec<&str> = L::ALL
        .iter()
        .filter(|m| m.from().contains(&current))
        .map(|m| m.done())
        .collect();
    let head = format!(
        "the {noun} is {current}, so it cannot be {done}",
        noun = L::NOUN,
        done = movement.done()
    );
    match allowed.as_slice() {
        [] => format!("{head}; a {current} {} cannot change any more", L::NOUN),
        [one] => format!("{head}; from {current} it can only be {one}"),
        [init @ .., last] => format!(
            "{head}; from {current} it can be {} or {last}",
            init.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Door {
        Open,
        Close,
        Weld,
    }

    impl Lifecycle for Door {
        type Status = &'static str;
        const NOUN: &'static str = "door";
        const ALL: &'static [Self] = &[Self::Open, Self::Close, Self::Weld];
        fn action(self) -> &'static str {
            "door.move"
        }
        fn done(self) -> &'static str {
            match self {
                Self::Open => "opened",
                Self::Close => "closed",
                Self::Weld => "welded",
            }
        }
        fn from(self) -> &'static [&'static str] {
            match self {
                Self::Open => &["closed"],
                Self::Close => &["open"],
                Self::Weld => &["open", "closed"],
            }
        }
        fn to(self) -> &'static str {
            match self {
                Self::Open => "open",
                Self::Close => "closed",
                Self::Weld => "welded",
            }
        }
    }

    #[test]
    fn refusals_name_the_status_and_the_moves_left() {
        let mut audit = AuditEntry::new("door.move", "door");
        let err = plan(Door::Open, "open", None, "input.door", &mut audit).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the door is open, so it cannot be opened; from open it can be closed or welded"
        );
        let err = plan(Door::Open, "welded", None, "input.door", &mut audit).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("a welded door cannot change any more"),
            "{err}"
        );
        let ok = plan(Door::Weld, "closed", Some(" rust ".into()), "f", &mut audit).unwrap();
        assert_eq!((ok.from, ok.to), ("closed", "welded"));
        assert_eq!(audit.details["reason"], "rust");
    }
}
