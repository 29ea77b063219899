//! Stripe-compatible checkout: the checkout-session call, and webhook signatures checked as
//! Stripe documents them (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of `t.payload`, every `v1`
//! tried, a 5-minute tolerance).
use super::{CheckoutRequest, ProviderError, Started};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::time::Duration;

/// How old a signed event may be.
pub const TOLERANCE_SECS: i64 = 300;

pub struct Stripe {
    secret_key: String,
    webhook_secret: String,
    api_base: String,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the event is older than the tolerance (or from the future)")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// A webhook event: what the portal reads of it.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    url: String,
}

impl Stripe {
    pub fn new(secret_key: &str, webhook_secret: &str, api_base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("HTTP client");
        Stripe {
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            api_base: api_base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// Creates a checkout session for the payment; the user is sent to its URL.
    pub async fn create_checkout(&self, r: &CheckoutRequest<'_>) -> Result<Started, ProviderError> {
        let payment_id = r.payment_id.to_string();
        let amount = r.amount_cents.to_string();
        let currency = r.currency.to_ascii_lowercase();
        let form = [
            ("mode", "payment"),
            ("success_url", r.return_url),
            ("cancel_url", r.cancel_url),
            ("client_reference_id", &payment_id),
            ("customer_email", r.customer_email),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", &currency),
            ("line_items[0][price_data][unit_amount]", &amount),
            ("line_items[0][price_data][product_data][name]", r.plan_name),
            ("metadata[payment_id]", &payment_id),
            ("payment_intent_data[metadata][payment_id]", &payment_id),
        ];
        let response = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.api_base))
            .bearer_auth(&self.secret_key)
            // Stripe's own idempotency: a retried call returns the same session.
            .header("Idempotency-Key", &payment_id)
            .form(&form)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ProviderError::Unavailable(format!("checkout session: HTTP {status}")));
        }
        let session: Session =
            response.json().await.map_err(|e| ProviderError::Unavailable(format!("checkout session: {e}")))?;
        if !session.url.starts_with("https://") && !session.url.starts_with("http://") {
            return Err(ProviderError::Unavailable("checkout session without a URL".into()));
        }
        Ok(Started::Redirect { provider_ref: session.id, url: session.url })
    }

    /// Checks a webhook's signature at time `now` (Unix seconds).
    pub fn verify(&self, header: Option<&str>, payload: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(&self.webhook_secret, header, payload, now)
    }
}

/// `Stripe-Signature` checked against `secret`: the timestamp within the tolerance and any `v1`
/// matching HMAC-SHA256(secret, "{t}.{payload}"), compared in constant time.
pub fn verify(secret: &str, header: Option<&str>, payload: &[u8], now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mac = || {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key size");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac
    };
    if signatures.iter().any(|s| mac().verify_slice(s).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `payload` at `timestamp` (tests and the local stand-in).
pub fn sign(secret: &str, payload: &[u8], timestamp: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_fresh_signature_by_the_secret_passes() {
        assert_eq!(verify(SECRET, Some(&sign(SECRET, BODY, 1000)), BODY, 1100), Ok(()));
    }

    #[test]
    fn every_v1_is_tried_and_other_schemes_ignored() {
        let good = sign(SECRET, BODY, 1000);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v0=abc,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&header), BODY, 1000), Ok(()));
    }

    #[test]
    fn wrong_secret_changed_body_stale_or_malformed_fail() {
        let header = sign(SECRET, BODY, 1000);
        assert_eq!(verify("whsec_other", Some(&header), BODY, 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, Some(&header), br#"{"id":"evt_2"}"#, 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, Some(&header), BODY, 1000 + TOLERANCE_SECS + 1), Err(SignatureError::Stale));
        assert_eq!(verify(SECRET, Some(&header), BODY, 1000 - TOLERANCE_SECS - 1), Err(SignatureError::Stale));
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "garbage"] {
            assert_eq!(verify(SECRET, Some(bad), BODY, 1000), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(verify(SECRET, None, BODY, 1000), Err(SignatureError::Malformed));
    }
}
