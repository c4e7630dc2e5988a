//! The record rules (`../shared/upstreams.md` §5) and the status with hysteresis: what the
//! resolvers answered, judged against what the domain should publish.
//!
//! - TXT strings of one record are joined with nothing between them (by the resolver side);
//!   separate TXT records at one name stay separate.
//! - SPF: records chosen by their `v=spf1` token (case folded); more than one is a permerror;
//!   one is compared token by token, case folded, spaces collapsed.
//! - DKIM: a tag list; `v=DKIM1`, if present, must be the first tag; the key (`p=`, spaces
//!   removed) must be the expected one; an empty `p=` is a revoked key.
//! - DMARC: `v` must be the first tag and its value exactly `DMARC1`; more than one DMARC
//!   record means no policy applies; `p=` must be the expected policy and every expected
//!   `rua` address must be listed.
//! - Ownership: the token compared exactly (outer space trimmed); other TXT records at the
//!   name are ignored.
//! - MX: the expected exchanger and preference must be among the answers.
//!
//! A record whose lookup timed out or failed (SERVFAIL) is `UNKNOWN`: it counts neither as a
//! pass nor as a failure, so it never moves the domain to a worse status.

use super::expected::{ExpectedRecord, dns_name, is_spf};
use super::{DomainStatus, RecordKind, RecordOverride, RecordResult, RecordStatus};

/// What the resolvers answered for one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The records (TXT: each record's strings joined; MX: `<preference> <exchange>`).
    Found(Vec<String>),
    /// The name has no such record (NXDOMAIN or no data).
    Empty,
    /// No usable answer (timeout, SERVFAIL, …), and why.
    Unknown(String),
}

/// Judges one expected record against the lookup of its name and type.
pub fn judge(expected: &ExpectedRecord, lookup: &Lookup) -> RecordResult {
    let result = |status, actual: Option<String>, reason: Option<String>| RecordResult {
        kind: expected.kind,
        name: expected.name.clone(),
        expected: expected.value.clone(),
        actual,
        status,
        reason,
        overridden: false,
    };
    let answers = match lookup {
        Lookup::Unknown(why) => return result(RecordStatus::Unknown, None, Some(why.clone())),
        Lookup::Empty => &Vec::new(),
        Lookup::Found(answers) => answers,
    };
    let (status, shown, reason) = match expected.kind {
        RecordKind::Mx => mx(&expected.value, answers),
        RecordKind::Spf => spf(&expected.value, answers),
        RecordKind::Dkim => dkim(&expected.value, answers),
        RecordKind::Dmarc => dmarc(&expected.value, answers),
        RecordKind::Ownership => ownership(&expected.value, answers),
    };
    let actual = (!shown.is_empty()).then(|| shown.join("\n"));
    result(status, actual, reason)
}

type Verdict = (RecordStatus, Vec<String>, Option<String>);

fn missing(what: &str) -> Verdict {
    (
        RecordStatus::Missing,
        Vec::new(),
        Some(format!("no {what} record is published")),
    )
}

fn mx(expected: &str, answers: &[String]) -> Verdict {
    if answers.is_empty() {
        return missing("MX");
    }
    let norm = |v: &str| {
        let mut parts = v.split_whitespace();
        let pref = parts.next().unwrap_or_default().to_owned();
        format!("{pref} {}", dns_name(parts.next().unwrap_or_default()))
    };
    let want = norm(expected);
    if answers.iter().any(|a| norm(a) == want) {
        (RecordStatus::Ok, answers.to_vec(), None)
    } else {
        (
            RecordStatus::Mismatch,
            answers.to_vec(),
            Some("the expected mail exchanger is not among the MX records".into()),
        )
    }
}

fn spf_tokens(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect()
}

fn spf(expected: &str, answers: &[String]) -> Verdict {
    let spfs: Vec<String> = answers.iter().filter(|a| is_spf(a)).cloned().collect();
    match spfs.len() {
        0 => missing("SPF"),
        1 if spf_tokens(&spfs[0]) == spf_tokens(expected) => (RecordStatus::Ok, spfs, None),
        1 => (
            RecordStatus::Mismatch,
            spfs,
            Some("the SPF record differs from the expected one".into()),
        ),
        n => (
            RecordStatus::Mismatch,
            spfs,
            Some(format!("{} SPF records: permerror", count_word(n))),
        ),
    }
}

fn count_word(n: usize) -> String {
    match n {
        2 => "two".into(),
        3 => "three".into(),
        n => n.to_string(),
    }
}

/// `tag=value` pairs of a DKIM or DMARC record, in order (names lower-cased, both trimmed).
fn tags(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
            None => (t.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fn tag<'t>(tags: &'t [(String, String)], name: &str) -> Option<&'t str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn dkim(expected: &str, answers: &[String]) -> Verdict {
    if answers.is_empty() {
        return missing("DKIM");
    }
    let key = |v: &str| v.split_whitespace().collect::<String>();
    let expected_tags = tags(expected);
    let want = key(tag(&expected_tags, "p").unwrap_or_default());
    let mut reason = "the published key differs from the mail server's".to_owned();
    for answer in answers {
        let found = tags(answer);
        let v_position = found.iter().position(|(k, _)| k == "v");
        if v_position.is_some_and(|p| p != 0) {
            reason = "v=DKIM1 must be the first tag".into();
            continue;
        }
        match tag(&found, "p").map(key) {
            Some(p) if p.is_empty() => reason = "the key is revoked (empty p=)".into(),
            Some(p) if p == want => return (RecordStatus::Ok, answers.to_vec(), None),
            Some(_) => {}
            None => reason = "no p= tag".into(),
        }
    }
    (RecordStatus::Mismatch, answers.to_vec(), Some(reason))
}

fn dmarc(expected: &str, answers: &[String]) -> Verdict {
    let records: Vec<(&String, Vec<(String, String)>)> = answers
        .iter()
        .map(|a| (a, tags(a)))
        .filter(|(_, t)| tag(t, "v").is_some_and(|v| v.eq_ignore_ascii_case("DMARC1")))
        .collect();
    let shown: Vec<String> = records.iter().map(|(a, _)| (*a).clone()).collect();
    let (text, found) = match records.as_slice() {
        [] => return missing("DMARC"),
        [one] => one,
        _ => {
            return (
                RecordStatus::Mismatch,
                shown,
                Some("more than one DMARC record: no policy applies".into()),
            );
        }
    };
    let bad = |why: &str| {
        (
            RecordStatus::Mismatch,
            vec![(*text).clone()],
            Some(why.into()),
        )
    };
    if found.first().is_none_or(|(k, _)| k != "v") {
        return bad("v=DMARC1 must be the first tag");
    }
    if tag(found, "v") != Some("DMARC1") {
        return bad("the version must be exactly DMARC1");
    }
    let want = tags(expected);
    let policy = tag(found, "p").map(str::to_ascii_lowercase);
    let want_policy = tag(&want, "p").unwrap_or_default();
    match policy.as_deref() {
        None => return bad("no p= tag"),
        Some(p) if p != want_policy => {
            return bad(&format!("p={p} is published, p={want_policy} is expected"));
        }
        Some(_) => {}
    }
    let list = |t: &[(String, String)]| -> Vec<String> {
        tag(t, "rua")
            .unwrap_or_default()
            .split(',')
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .collect()
    };
    let published = list(found);
    if let Some(absent) = list(&want).into_iter().find(|a| !published.contains(a)) {
        return bad(&format!("rua does not list {absent}"));
    }
    (RecordStatus::Ok, vec![(*text).clone()], None)
}

fn ownership(expected: &str, answers: &[String]) -> Verdict {
    if answers.iter().any(|a| a.trim() == expected) {
        return (RecordStatus::Ok, vec![expected.to_owned()], None);
    }
    let prefix = expected.split('=').next().unwrap_or_default();
    let others: Vec<String> = answers
        .iter()
        .filter(|a| a.trim().starts_with(&format!("{prefix}=")))
        .cloned()
        .collect();
    if others.is_empty() {
        missing("ownership")
    } else {
        (
            RecordStatus::Mismatch,
            others,
            Some("a different ownership token is published".into()),
        )
    }
}

/// Marks failing results an operator accepted as OK (overridden), while the published value
/// is still the one accepted; a changed value fails again.
pub fn apply_overrides(results: &mut [RecordResult], overrides: &[RecordOverride]) {
    for result in results
        .iter_mut()
        .filter(|r| matches!(r.status, RecordStatus::Missing | RecordStatus::Mismatch))
    {
        if let Some(o) = overrides
            .iter()
            .find(|o| o.kind == result.kind && o.name == result.name && o.actual == result.actual)
        {
            result.status = RecordStatus::Ok;
            result.overridden = true;
            result.reason = Some(format!("overridden: {}", o.reason));
        }
    }
}

/// How one check ended, for the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record OK.
    Pass,
    /// At least one record MISSING or MISMATCH.
    Fail,
    /// No failure, but some records UNKNOWN: proves nothing either way.
    Inconclusive,
}

/// The outcome of a check's results.
pub fn outcome(results: &[RecordResult]) -> Outcome {
    if results
        .iter()
        .any(|r| matches!(r.status, RecordStatus::Missing | RecordStatus::Mismatch))
    {
        Outcome::Fail
    } else if results.iter().any(|r| r.status == RecordStatus::Unknown) {
        Outcome::Inconclusive
    } else {
        Outcome::Pass
    }
}

/// The status and failures in a row after a check (hysteresis): a pass verifies at once; a
/// failure degrades a verified domain and fails it after `failing_after` failures in a row; a
/// domain that never passed stays pending; an inconclusive check changes nothing.
pub fn next_status(
    status: DomainStatus,
    failures: i32,
    outcome: Outcome,
    failing_after: u32,
) -> (DomainStatus, i32) {
    match outcome {
        Outcome::Pass => (DomainStatus::Verified, 0),
        Outcome::Inconclusive => (status, failures),
        Outcome::Fail => {
            let failures = failures.saturating_add(1);
            let limit = i32::try_from(failing_after.max(1)).unwrap_or(i32::MAX);
            let next = match status {
                DomainStatus::PendingVerification => DomainStatus::PendingVerification,
                _ if failures >= limit => DomainStatus::Failing,
                _ => DomainStatus::Degraded,
            };
            (next, failures)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(kind: RecordKind, value: &str) -> ExpectedRecord {
        ExpectedRecord {
            kind,
            name: "example.com".into(),
            value: value.into(),
        }
    }

    fn found(values: &[&str]) -> Lookup {
        Lookup::Found(values.iter().map(|v| (*v).to_owned()).collect())
    }

    #[test]
    fn spf_rules() {
        let e = exp(RecordKind::Spf, "v=spf1 mx -all");
        assert_eq!(
            judge(&e, &found(&["V=SPF1  MX -ALL", "other"])).status,
            RecordStatus::Ok
        );
        let two = judge(&e, &found(&["v=spf1 mx -all", "v=spf1 -all"]));
        assert_eq!(two.status, RecordStatus::Mismatch);
        assert_eq!(two.reason.as_deref(), Some("two SPF records: permerror"));
        assert_eq!(
            judge(&e, &found(&["v=spf10 mx"])).status,
            RecordStatus::Missing
        );
        assert_eq!(judge(&e, &Lookup::Empty).status, RecordStatus::Missing);
        assert_eq!(
            judge(&e, &found(&["v=spf1 ~all"])).status,
            RecordStatus::Mismatch
        );
    }

    #[test]
    fn dkim_rules() {
        let e = exp(RecordKind::Dkim, "v=DKIM1; k=rsa; h=sha256; p=ABCD");
        assert_eq!(
            judge(&e, &found(&["v=DKIM1; k=rsa; p=AB CD"])).status,
            RecordStatus::Ok
        );
        assert_eq!(
            judge(&e, &found(&["k=rsa; p=ABCD"])).status,
            RecordStatus::Ok
        );
        let late = judge(&e, &found(&["k=rsa; v=DKIM1; p=ABCD"]));
        assert_eq!(
            late.reason.as_deref(),
            Some("v=DKIM1 must be the first tag")
        );
        let revoked = judge(&e, &found(&["v=DKIM1; p="]));
        assert_eq!(
            revoked.reason.as_deref(),
            Some("the key is revoked (empty p=)")
        );
        assert_eq!(
            judge(&e, &found(&["v=DKIM1; p=XYZ"])).status,
            RecordStatus::Mismatch
        );
    }

    #[test]
    fn dmarc_rules() {
        let e = exp(
            RecordKind::Dmarc,
            "v=DMARC1; p=reject; rua=mailto:a@x.example",
        );
        let ok = "v = DMARC1 ; p=REJECT; rua=mailto:A@x.example,mailto:b@y.example";
        assert_eq!(
            judge(&e, &found(&[ok, "unrelated"])).status,
            RecordStatus::Ok
        );
        let late = judge(&e, &found(&["p=reject; v=DMARC1"]));
        assert_eq!(late.status, RecordStatus::Mismatch);
        assert_eq!(
            late.reason.as_deref(),
            Some("v=DMARC1 must be the first tag")
        );
        let case = judge(&e, &found(&["v=dmarc1; p=reject; rua=mailto:a@x.example"]));
        assert_eq!(
            case.reason.as_deref(),
            Some("the version must be exactly DMARC1")
        );
        let weak = judge(&e, &found(&["v=DMARC1; p=none; rua=mailto:a@x.example"]));
        assert_eq!(
            weak.reason.as_deref(),
            Some("p=none is published, p=reject is expected")
        );
        let two = judge(&e, &found(&[ok, ok]));
        assert_eq!(two.status, RecordStatus::Mismatch);
        assert_eq!(
            judge(&e, &found(&["v=DMARC1; p=reject"])).status,
            RecordStatus::Mismatch
        );
    }

    #[test]
    fn ownership_and_mx_and_unknown() {
        let e = exp(RecordKind::Ownership, "dezky-verification=abc");
        assert_eq!(
            judge(&e, &found(&["x", " dezky-verification=abc "])).status,
            RecordStatus::Ok
        );
        assert_eq!(
            judge(&e, &found(&["google-site-verification=1"])).status,
            RecordStatus::Missing
        );
        assert_eq!(
            judge(&e, &found(&["dezky-verification=abd"])).status,
            RecordStatus::Mismatch
        );
        let m = exp(RecordKind::Mx, "10 mail.example.com");
        assert_eq!(
            judge(&m, &found(&["10 Mail.Example.com."])).status,
            RecordStatus::Ok
        );
        assert_eq!(
            judge(&m, &found(&["20 mail.example.com."])).status,
            RecordStatus::Mismatch
        );
        let u = judge(&m, &Lookup::Unknown("timed out".into()));
        assert_eq!(
            (u.status, u.reason.as_deref()),
            (RecordStatus::Unknown, Some("timed out"))
        );
    }

    #[test]
    fn hysteresis() {
        use DomainStatus::*;
        let mut state = (Verified, 0);
        for expected in [(Degraded, 1), (Degraded, 2), (Failing, 3), (Failing, 4)] {
            state = next_status(state.0, state.1, Outcome::Fail, 3);
            assert_eq!(state, expected);
        }
        assert_eq!(
            next_status(Failing, 4, Outcome::Inconclusive, 3),
            (Failing, 4)
        );
        assert_eq!(
            next_status(Degraded, 1, Outcome::Inconclusive, 3),
            (Degraded, 1)
        );
        assert_eq!(next_status(Failing, 4, Outcome::Pass, 3), (Verified, 0));
        assert_eq!(
            next_status(PendingVerification, 5, Outcome::Fail, 3),
            (PendingVerification, 6)
        );
    }
}
