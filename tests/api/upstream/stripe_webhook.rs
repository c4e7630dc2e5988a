//! Stripe webhook signature verification (a pure function; Stripe's own rules).

use std::time::Duration;

use platform_api::upstream::Secret;
use platform_api::upstream::stripe::webhook::{DEFAULT_TOLERANCE, WebhookError, sign, verify};

const NOW: i64 = 1_760_000_000;
const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"setup_intent.succeeded"}"#;

fn secret() -> Secret {
    Secret::new("whsec_current_0123456789")
}

fn header(secret: &Secret, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(body, secret, t))
}

fn check(body: &[u8], header: Option<&str>, secret: &Secret) -> Result<(), WebhookError> {
    verify(body, header, secret, NOW, DEFAULT_TOLERANCE)
}

#[test]
fn a_valid_signature_verifies() {
    let h = header(&secret(), NOW - 10, BODY);
    assert_eq!(check(BODY, Some(&h), &secret()), Ok(()));
}

#[test]
fn a_tampered_body_fails() {
    let h = header(&secret(), NOW, BODY);
    let tampered = br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
    assert_eq!(
        check(tampered, Some(&h), &secret()),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn a_wrong_secret_fails() {
    let h = header(&Secret::new("whsec_someone_else"), NOW, BODY);
    assert_eq!(
        check(BODY, Some(&h), &secret()),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn an_old_timestamp_fails() {
    let h = header(&secret(), NOW - 301, BODY);
    assert_eq!(
        check(BODY, Some(&h), &secret()),
        Err(WebhookError::TimestampOutsideTolerance)
    );
    let h = header(&secret(), NOW - 300, BODY);
    assert_eq!(
        check(BODY, Some(&h), &secret()),
        Ok(()),
        "300 s is still fine"
    );
    assert_eq!(
        verify(BODY, Some(&h), &secret(), NOW, Duration::from_secs(60)),
        Err(WebhookError::TimestampOutsideTolerance)
    );
}

#[test]
fn a_missing_header_fails() {
    assert_eq!(
        check(BODY, None, &secret()),
        Err(WebhookError::MissingHeader)
    );
}

#[test]
fn during_rotation_either_secret_verifies_the_two_v1_values() {
    let old = Secret::new("whsec_old_9876543210");
    let new = secret();
    let both = format!(
        "t={NOW},v1={},v1={}",
        sign(BODY, &new, NOW),
        sign(BODY, &old, NOW)
    );
    assert_eq!(check(BODY, Some(&both), &new), Ok(()));
    assert_eq!(check(BODY, Some(&both), &old), Ok(()));
    assert_eq!(
        check(BODY, Some(&both), &Secret::new("whsec_third")),
        Err(WebhookError::NoValidSignature)
    );
}
