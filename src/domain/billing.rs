//! Plans, subscriptions and payments: the period arithmetic, checkout, crediting exactly once,
//! failures and refunds.
use super::{email, peers, FieldErrors};
use crate::cache::FragmentCache;
use crate::payments::{stripe::Stripe, CheckoutRequest, Provider, ProviderError, Started};
use crate::store::billing::{self as store, NewPayment, Plan, Subscription};
use crate::store::users;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The owner of the cached pricing fragment, bumped by every plan change.
pub const PLANS_OWNER: &str = "plans";

/// Time runs on: a next plan whose start has passed becomes the plan, with its own periods.
pub fn rolled(s: &Subscription, now: OffsetDateTime) -> Subscription {
    match (s.next_plan_id, s.next_plan_from) {
        (Some(next), Some(from)) if from <= now => Subscription {
            plan_id: next,
            period_anchor: from,
            current_period_end: s.current_period_end,
            next_plan_id: None,
            next_plan_from: None,
        },
        _ => s.clone(),
    }
}

/// The subscription after paying `days` of `plan_id` at `now`. Lapsed (or none): a new run
/// starts now. Current: the paid time is extended from its end; a different plan takes over
/// when the time already paid for ends (the newest purchase decides the plan after the current).
pub fn extend(current: Option<&Subscription>, plan_id: i64, days: i32, now: OffsetDateTime) -> Subscription {
    let paid = Duration::days(i64::from(days));
    match current.map(|s| rolled(s, now)) {
        Some(s) if s.current_period_end > now => {
            let mut next = s.clone();
            next.current_period_end = s.current_period_end + paid;
            if plan_id == s.plan_id {
                next.next_plan_id = None;
                next.next_plan_from = None;
            } else {
                next.next_plan_id = Some(plan_id);
                next.next_plan_from = Some(s.next_plan_from.unwrap_or(s.current_period_end));
            }
            next
        }
        _ => Subscription {
            plan_id,
            period_anchor: now,
            current_period_end: now + paid,
            next_plan_id: None,
            next_plan_from: None,
        },
    }
}

/// The subscription after refunding `days` of paid time: the end moves back (never before the
/// run's start); a next plan whose time is gone is dropped.
pub fn shorten(s: &Subscription, days: i32, now: OffsetDateTime) -> Subscription {
    let s = rolled(s, now);
    let mut next = s.clone();
    next.current_period_end = (s.current_period_end - Duration::days(i64::from(days))).max(s.period_anchor);
    if next.next_plan_from.is_some_and(|from| from >= next.current_period_end) {
        next.next_plan_id = None;
        next.next_plan_from = None;
    }
    next
}

/// Amounts as people read them: `12.50 EUR`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02} {currency}", cents.abs() / 100, cents.abs() % 100)
}

/// A day as emails and receipts show it.
pub fn day(at: OffsetDateTime) -> String {
    format!("{} {} {}", at.day(), at.month(), at.year())
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("no such payment or plan")]
    NotFound,
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("the payment is {0}")]
    WrongState(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Which way the user pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Card,
    Manual,
}

impl Method {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "card" => Some(Method::Card),
            "manual" => Some(Method::Manual),
            _ => None,
        }
    }
}

pub struct Billing<'a> {
    pub pool: &'a PgPool,
    pub fragments: &'a FragmentCache,
    pub stripe: Option<&'a Stripe>,
    pub public_url: &'a str,
}

/// What checkout answers: where the user goes next.
pub enum Checkout {
    Redirect(String),
    Instructions(Uuid),
}

impl Billing<'_> {
    /// Starts paying for a plan: a pending payment first (one per idempotency key, so a double
    /// submit makes one), then the provider.
    pub async fn checkout(
        &self,
        user_id: i64,
        plan_id: i64,
        method: &str,
        idempotency_key: &str,
    ) -> Result<Checkout, BillingError> {
        let mut errors = FieldErrors::default();
        let method = Method::parse(method);
        if method.is_none() {
            errors.add("method", "Choose card or bank transfer.");
        }
        if idempotency_key.is_empty() || idempotency_key.len() > 100 {
            errors.add("idempotency_key", "Reload the page and try again.");
        }
        let plan = store::plan(self.pool, plan_id).await?.filter(|p| p.active && !p.free);
        if plan.is_none() {
            errors.add("plan", "Choose one of the plans on offer.");
        }
        let (Some(method), Some(plan)) = (method, plan.filter(|_| errors.is_empty())) else {
            return Err(BillingError::Invalid(errors));
        };
        let provider = match (method, self.stripe) {
            (Method::Card, Some(stripe)) => Provider::Stripe(stripe),
            (Method::Card, None) => return Err(ProviderError::NotConfigured.into()),
            (Method::Manual, _) => Provider::Manual,
        };
        let reference = provider.reference();
        let new = NewPayment {
            id: Uuid::new_v4(),
            user_id,
            plan: &plan,
            provider: provider.name(),
            provider_ref: reference.as_deref(),
            idempotency_key,
        };
        let (payment_id, first) = store::insert_payment(self.pool, &new).await?;
        let payment = store::users_payment(self.pool, user_id, payment_id).await?.ok_or(BillingError::NotFound)?;
        if !first && payment.provider == "manual" {
            return Ok(Checkout::Instructions(payment_id));
        }
        if payment.status != "pending" {
            return Err(BillingError::WrongState(payment.status));
        }
        self.fragments.invalidate(&user_id.to_string()).await;
        let request = CheckoutRequest {
            payment_id,
            plan_name: &payment.plan_name,
            amount_cents: payment.amount_cents,
            currency: &payment.currency,
            customer_email: &payment.email,
            return_url: &format!("{}/billing?paid={payment_id}", self.public_url),
            cancel_url: &format!("{}/billing", self.public_url),
        };
        match provider.start(&request, payment.provider_ref.as_deref()).await {
            Ok(Started::Redirect { provider_ref, url }) => {
                store::set_provider_ref(self.pool, payment_id, &provider_ref).await?;
                log::info!(event = "checkout_started", user_id = user_id, provider = provider.name(); "checkout_started");
                Ok(Checkout::Redirect(url))
            }
            Ok(Started::Instructions { .. }) => {
                log::info!(event = "manual_payment_started", user_id = user_id; "manual_payment_started");
                Ok(Checkout::Instructions(payment_id))
            }
            Err(e) => {
                let mut tx = self.pool.begin().await?;
                store::mark_failed(&mut tx, payment_id, &e.to_string()).await?;
                tx.commit().await?;
                Err(e.into())
            }
        }
    }

    /// A transaction for a change to the payment, with the provider event that asks for it
    /// recorded first; None if that event was handled before (a replay changes nothing).
    async fn begin(
        &self,
        payment_id: Uuid,
        event: Option<(&str, &str)>,
    ) -> sqlx::Result<Option<sqlx::Transaction<'static, sqlx::Postgres>>> {
        let mut tx = self.pool.begin().await?;
        if let Some((id, kind)) = event {
            if !store::record_event(&mut tx, "stripe", id, kind, Some(payment_id)).await? {
                return Ok(None);
            }
        }
        Ok(Some(tx))
    }

    /// Credits a payment: marks it paid and extends the subscription, with the receipt queued in
    /// the same transaction. Exactly once: a second call finds it paid and changes nothing
    /// (false). `event` is the provider event that says so, recorded in the same transaction.
    pub async fn credit(
        &self,
        payment_id: Uuid,
        intent: Option<&str>,
        event: Option<(&str, &str)>,
    ) -> Result<bool, BillingError> {
        let Some(mut tx) = self.begin(payment_id, event).await? else {
            return Ok(false);
        };
        let Some(settled) = store::mark_paid(&mut tx, payment_id, intent).await? else {
            tx.commit().await?;
            return Ok(false);
        };
        let now = OffsetDateTime::now_utc();
        let current = store::lock_subscription(&mut tx, settled.user_id).await?;
        let next = extend(current.as_ref(), settled.plan_id, settled.period_days, now);
        store::save_subscription(&mut tx, settled.user_id, &next).await?;
        let (username, address) = users::contact(&mut tx, settled.user_id).await?;
        let plan = store::plan_name(&mut tx, settled.plan_id).await?;
        let link = format!("{}/billing/receipts/{payment_id}", self.public_url);
        let mail = crate::views::email::receipt(
            &username,
            &crate::views::email::ReceiptLine {
                plan: &plan,
                amount: &money(settled.amount_cents, &settled.currency),
                paid_until: &day(next.current_period_end),
                link: &link,
            },
        );
        email::queue(&mut tx, &address, &mail, None).await?;
        tx.commit().await?;
        self.account_changed(settled.user_id).await?;
        log::info!(event = "payment_credited", user_id = settled.user_id, amount_cents = settled.amount_cents; "payment_credited");
        Ok(true)
    }

    /// Marks a pending payment failed (the provider said so, or an admin did).
    pub async fn fail(
        &self,
        payment_id: Uuid,
        reason: &str,
        event: Option<(&str, &str)>,
    ) -> Result<bool, BillingError> {
        let Some(mut tx) = self.begin(payment_id, event).await? else {
            return Ok(false);
        };
        let failed = store::mark_failed(&mut tx, payment_id, reason).await?;
        tx.commit().await?;
        if let Some(user_id) = failed {
            self.fragments.invalidate(&user_id.to_string()).await;
            log::info!(event = "payment_failed", payment_id = payment_id.to_string().as_str(); "payment_failed");
        }
        Ok(failed.is_some())
    }

    /// Refunds a paid payment: the paid time it bought is taken back.
    pub async fn refund(&self, payment_id: Uuid, event: Option<(&str, &str)>) -> Result<bool, BillingError> {
        let Some(mut tx) = self.begin(payment_id, event).await? else {
            return Ok(false);
        };
        let Some(settled) = store::mark_refunded(&mut tx, payment_id).await? else {
            tx.commit().await?;
            return Ok(false);
        };
        if let Some(current) = store::lock_subscription(&mut tx, settled.user_id).await? {
            let next = shorten(&current, settled.period_days, OffsetDateTime::now_utc());
            store::save_subscription(&mut tx, settled.user_id, &next).await?;
        }
        tx.commit().await?;
        self.account_changed(settled.user_id).await?;
        log::info!(event = "payment_refunded", user_id = settled.user_id, amount_cents = settled.amount_cents; "payment_refunded");
        Ok(true)
    }

    /// After a commit that changed what the user gets: their pages and every node serving them.
    async fn account_changed(&self, user_id: i64) -> sqlx::Result<()> {
        self.fragments.invalidate(&user_id.to_string()).await;
        peers::users_changed(self.pool, self.fragments, &[user_id]).await
    }
}

/// The checks every plan form gets.
pub struct PlanForm {
    pub name: String,
    pub price: String,
    pub currency: String,
    pub period_days: String,
    pub max_clients: String,
    pub data_limit_gb: String,
    pub active: bool,
    pub free: bool,
}

/// Parses a price such as `9`, `9.5` or `9.99` into minor units.
pub fn parse_price(price: &str) -> Option<i64> {
    let price = price.trim();
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    if whole.is_empty() || whole.len() > 7 || fraction.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

impl PlanForm {
    /// The plan's fields, or a message per wrong field.
    pub fn parse(&self) -> Result<store::PlanFields<'_>, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        if !(2..=40).contains(&name.chars().count()) {
            errors.add("name", "Use 2 to 40 characters.");
        }
        let price = parse_price(&self.price);
        if price.is_none() {
            errors.add("price", "Enter a price such as 9.99.");
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            errors.add("currency", "Use a three-letter code such as EUR.");
        }
        let period = self.period_days.trim().parse::<i32>().ok().filter(|d| (1..=3660).contains(d));
        if period.is_none() {
            errors.add("period_days", "Enter a number of days from 1 to 3660.");
        }
        let max_clients = self.max_clients.trim().parse::<i32>().ok().filter(|n| (0..=1_000_000).contains(n));
        if max_clients.is_none() {
            errors.add("max_clients", "Enter a number from 0 to 1000000.");
        }
        let limit = match self.data_limit_gb.trim() {
            "" => Some(None),
            gb => gb.parse::<i64>().ok().filter(|g| (1..=1_000_000).contains(g)).map(|g| Some(g * 1_000_000_000)),
        };
        if limit.is_none() {
            errors.add("data_limit_gb", "Enter whole gigabytes (1 or more), or leave empty for no limit.");
        }
        if self.free && price.is_some_and(|p| p != 0) {
            errors.add("price", "The free plan costs nothing.");
        }
        match (price, period, max_clients, limit) {
            (Some(price_cents), Some(period_days), Some(max_clients), Some(data_limit_bytes)) if errors.is_empty() => {
                Ok(store::PlanFields {
                    name,
                    price_cents,
                    currency: &self.currency,
                    period_days,
                    max_clients,
                    data_limit_bytes,
                    active: self.active,
                    free: self.free,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Adds (`id` None) or changes a plan; the pricing page and peer lists follow.
pub async fn save_plan(
    pool: &PgPool,
    fragments: &FragmentCache,
    id: Option<i64>,
    form: &PlanForm,
) -> Result<i64, BillingError> {
    let fields = form.parse().map_err(BillingError::Invalid)?;
    let conflict = |c: store::PlanConflict| match c {
        store::PlanConflict::Name => BillingError::Invalid(FieldErrors::single("name", "Another plan has this name.")),
        store::PlanConflict::Free => BillingError::Invalid(FieldErrors::single(
            "free",
            "Another plan is the free plan; take it off that one first.",
        )),
        store::PlanConflict::Db(e) => BillingError::Db(e),
    };
    let id = match id {
        None => store::insert_plan(pool, &fields).await.map_err(conflict)?,
        Some(id) => {
            if !store::update_plan(pool, id, &fields).await.map_err(conflict)? {
                return Err(BillingError::NotFound);
            }
            id
        }
    };
    fragments.invalidate(PLANS_OWNER).await;
    // Limits of everyone on the plan may have changed: every node's list is rebuilt.
    let nodes: Vec<i64> = crate::store::nodes::list(pool).await?.iter().map(|n| n.id).collect();
    peers::changed(fragments, &nodes).await;
    log::info!(event = "plan_saved", plan_id = id; "plan_saved");
    Ok(id)
}

/// What the user gets now: plan, limits, usage period.
pub async fn entitlement(pool: &PgPool, user_id: i64) -> sqlx::Result<Option<store::Entitlement>> {
    store::entitlement(pool, user_id).await
}

/// The plans on offer.
pub async fn offered_plans(pool: &PgPool) -> sqlx::Result<Vec<Plan>> {
    store::plans(pool, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn sub(plan: i64, anchor: OffsetDateTime, end: OffsetDateTime) -> Subscription {
        Subscription {
            plan_id: plan,
            period_anchor: anchor,
            current_period_end: end,
            next_plan_id: None,
            next_plan_from: None,
        }
    }

    #[test]
    fn a_first_payment_starts_now() {
        let s = extend(None, 1, 30, NOW);
        assert_eq!(s, sub(1, NOW, NOW + Duration::days(30)));
    }

    #[test]
    fn paying_while_current_extends_from_the_end() {
        let current = sub(1, NOW - Duration::days(10), NOW + Duration::days(20));
        let s = extend(Some(&current), 1, 30, NOW);
        assert_eq!(s, sub(1, NOW - Duration::days(10), NOW + Duration::days(50)));
    }

    #[test]
    fn paying_after_a_lapse_starts_again_from_now() {
        let lapsed = sub(1, NOW - Duration::days(40), NOW - Duration::days(10));
        assert_eq!(extend(Some(&lapsed), 1, 30, NOW), sub(1, NOW, NOW + Duration::days(30)));
    }

    #[test]
    fn a_plan_change_waits_for_the_paid_time_to_end() {
        let current = sub(1, NOW - Duration::days(10), NOW + Duration::days(20));
        let s = extend(Some(&current), 2, 365, NOW);
        assert_eq!(s.plan_id, 1);
        assert_eq!(s.next_plan_id, Some(2));
        assert_eq!(s.next_plan_from, Some(NOW + Duration::days(20)));
        assert_eq!(s.current_period_end, NOW + Duration::days(385));
        // Once that time comes, plan 2 runs with periods from its own start.
        let later = rolled(&s, NOW + Duration::days(21));
        assert_eq!(later, sub(2, NOW + Duration::days(20), NOW + Duration::days(385)));
        // Paying for plan 1 again before then: plan 1 goes on, the change is off.
        let back = extend(Some(&s), 1, 30, NOW);
        assert_eq!((back.plan_id, back.next_plan_id), (1, None));
        assert_eq!(back.current_period_end, NOW + Duration::days(415));
    }

    #[test]
    fn a_change_after_the_next_plan_started_counts_from_the_rolled_plan() {
        let s = Subscription {
            plan_id: 1,
            period_anchor: NOW - Duration::days(40),
            current_period_end: NOW + Duration::days(20),
            next_plan_id: Some(2),
            next_plan_from: Some(NOW - Duration::days(10)),
        };
        let paid = extend(Some(&s), 2, 30, NOW);
        assert_eq!(paid, sub(2, NOW - Duration::days(10), NOW + Duration::days(50)));
    }

    #[test]
    fn a_refund_takes_back_its_days_and_a_next_plan_it_paid_for() {
        let current = sub(1, NOW - Duration::days(10), NOW + Duration::days(20));
        let changed = extend(Some(&current), 2, 30, NOW);
        let refunded = shorten(&changed, 30, NOW);
        assert_eq!(refunded, current, "the change's time is gone, and the change with it");
        let lapsed = shorten(&current, 30, NOW);
        assert_eq!(lapsed.current_period_end, NOW - Duration::days(10), "never before the run's start");
        assert!(lapsed.current_period_end <= NOW, "lapsed");
    }

    #[test]
    fn prices_parse_to_minor_units() {
        for (text, cents) in [("9", 900), ("9.5", 950), ("9.99", 999), ("0", 0), (" 12.05 ", 1205)] {
            assert_eq!(parse_price(text), Some(cents), "{text}");
        }
        for bad in ["", "-1", "9.999", "1e3", "9,99", ".5", "abc", "12345678"] {
            assert_eq!(parse_price(bad), None, "{bad}");
        }
        assert_eq!(money(1205, "EUR"), "12.05 EUR");
    }
}
