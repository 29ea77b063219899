//! Stripe webhooks: a verified event credits, fails or refunds the payment it names, once per
//! event id (a replay answers 200 and changes nothing).
use super::billing::{Billing, BillingError};
use crate::payments::stripe::{Event, SignatureError, Stripe};
use crate::store::billing as store;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("card payments are not set up")]
    NotConfigured,
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the event is not valid JSON of the expected shape")]
    Malformed,
    #[error(transparent)]
    Billing(#[from] BillingError),
}

impl From<sqlx::Error> for WebhookError {
    fn from(e: sqlx::Error) -> Self {
        WebhookError::Billing(BillingError::Db(e))
    }
}

/// What became of an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Seen before, or it changed nothing (already in that state, an event type we ignore).
    Ignored,
}

fn text<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(object, |v, key| v.get(key))?.as_str()
}

/// The payment an event's object names: our id in its metadata or client reference, else the
/// provider's session or intent id.
async fn payment_of(billing: &Billing<'_>, object: &Value) -> sqlx::Result<Option<store::Payment>> {
    let ours = text(object, &["client_reference_id"])
        .or_else(|| text(object, &["metadata", "payment_id"]))
        .and_then(|id| Uuid::parse_str(id).ok());
    let session = text(object, &["id"]).filter(|id| id.starts_with("cs_"));
    let intent = text(object, &["payment_intent"]).or_else(|| text(object, &["id"]).filter(|id| id.starts_with("pi_")));
    // The connection goes back before the next query takes one: a request never holds two.
    let theirs = {
        let mut conn = billing.pool.acquire().await?;
        store::payment_by_provider(&mut conn, "stripe", session, intent).await?
    };
    let id = match (ours, theirs) {
        // Both named: they must agree, or the event is about something else.
        (Some(a), Some(b)) if a != b => return Ok(None),
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => return Ok(None),
    };
    Ok(store::payment(billing.pool, id).await?.filter(|p| p.provider == "stripe"))
}

/// Verifies and handles one webhook delivery.
pub async fn handle(
    billing: &Billing<'_>,
    stripe: Option<&Stripe>,
    signature: Option<&str>,
    payload: &[u8],
) -> Result<Handled, WebhookError> {
    let stripe = stripe.ok_or(WebhookError::NotConfigured)?;
    stripe.verify(signature, payload, time::OffsetDateTime::now_utc().unix_timestamp())?;
    let event: Event = serde_json::from_slice(payload).map_err(|_| WebhookError::Malformed)?;
    if event.id.is_empty() || event.id.len() > 255 {
        return Err(WebhookError::Malformed);
    }
    let object = &event.data.object;
    let stamp = Some((event.id.as_str(), event.kind.as_str()));
    let payment = payment_of(billing, object).await?;
    let applied = match (event.kind.as_str(), payment) {
        ("checkout.session.completed", Some(p)) => {
            let id = p.id;
            let amount = object.get("amount_total").and_then(Value::as_i64);
            let currency = text(object, &["currency"]).map(str::to_ascii_uppercase);
            if text(object, &["payment_status"]) != Some("paid") {
                // Paid later (a bank debit): `checkout.session.async_payment_succeeded` would say so.
                record_only(billing, &event, Some(id)).await?
            } else if amount != Some(p.amount_cents) || currency.as_deref() != Some(p.currency.as_str()) {
                log::warn!(event = "payment_amount_mismatch", payment_id = id.to_string().as_str(); "payment_amount_mismatch");
                billing.fail(id, "the amount paid does not match the plan's price", stamp).await?
            } else {
                billing.credit(id, text(object, &["payment_intent"]), stamp).await?
            }
        }
        ("payment_intent.payment_failed", Some(p)) => {
            let id = p.id;
            let reason = text(object, &["last_payment_error", "message"]).unwrap_or("the payment failed");
            billing.fail(id, reason, stamp).await?
        }
        ("charge.refunded", Some(p)) => {
            let id = p.id;
            // Only a full refund takes the paid time back; a partial one is the admin's call.
            if object.get("refunded").and_then(Value::as_bool) == Some(true) {
                billing.refund(id, stamp).await?
            } else {
                record_only(billing, &event, Some(id)).await?
            }
        }
        (_, payment) => record_only(billing, &event, payment.map(|p| p.id)).await?,
    };
    log::info!(event = "stripe_webhook", kind = event.kind.as_str(), applied = applied; "stripe_webhook");
    Ok(if applied { Handled::Applied } else { Handled::Ignored })
}

/// Notes an event that changes nothing, so that its replays are known as such.
async fn record_only(billing: &Billing<'_>, event: &Event, payment: Option<Uuid>) -> sqlx::Result<bool> {
    let mut conn = billing.pool.acquire().await?;
    store::record_event(&mut conn, "stripe", &event.id, &event.kind, payment).await?;
    Ok(false)
}
