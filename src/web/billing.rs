//! Pricing, the billing page, checkout, a payment, its receipt, and the Stripe webhook.
use super::auth::FormResponse;
use super::responses::PublicPage;
use crate::assets::Assets;
use crate::auth::{CsrfForm, CurrentUser};
use crate::db::Db;
use crate::domain::billing::{self, BillingError, Checkout};
use crate::domain::webhooks::{self, Handled, WebhookError};
use crate::error::AppError;
use crate::state::Portal;
use crate::store;
use crate::views::{self, billing::BillingPage, layout::trusted, PageContext};
use maud::Markup;
use rocket::data::{Data, ToByteUnit};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::serde::json::Json;
use rocket::{get, post, routes, State};
use uuid::Uuid;

pub fn routes() -> Vec<rocket::Route> {
    routes![pricing, billing_page, checkout, payment, receipt, stripe_webhook]
}

const PRICING_FRAGMENT: &str = "pricing";

#[get("/pricing")]
async fn pricing(ctx: super::context::PublicContext, db: &Db, portal: &State<Portal>) -> Result<PublicPage, AppError> {
    let cached = portal.fragments.lookup(&[(PRICING_FRAGMENT, billing::PLANS_OWNER)]).await;
    let cards = cached
        .get_or_render(PRICING_FRAGMENT, billing::PLANS_OWNER, || async {
            let plans = billing::offered_plans(db.pool()).await?;
            Ok::<_, AppError>(views::billing::plan_cards(&plans).into_string())
        })
        .await?;
    let signed_in = ctx.0.user.is_some();
    Ok(PublicPage {
        html: views::billing::pricing(&ctx.0, trusted(cards)).into(),
        signed_in,
        s_maxage: portal.config.public_s_maxage,
    })
}

async fn render_billing(
    ctx: &PageContext,
    user: &CurrentUser,
    db: &Db,
    portal: &Portal,
    returned: Option<Uuid>,
    error: Option<&str>,
) -> Result<Markup, AppError> {
    let pool = db.pool();
    let entitled = billing::entitlement(pool, user.user_id()).await?.ok_or(AppError::NotFound)?;
    let subscription = store::billing::subscription_view(pool, user.user_id()).await?;
    let plans = billing::offered_plans(pool).await?;
    let payments = store::billing::users_payments(pool, user.user_id(), 50).await?;
    let returned = match returned {
        Some(id) => store::billing::users_payment(pool, user.user_id(), id).await?,
        None => None,
    };
    let (key, _) = crate::auth::tokens::new_token();
    Ok(views::billing::billing(
        ctx,
        &BillingPage {
            plan_name: entitled.plan_name.as_deref(),
            subscription: subscription.as_ref(),
            paid: entitled.paid,
            plans: &plans,
            payments: &payments,
            card_payments: portal.stripe.is_some(),
            idempotency_key: &key,
            returned: returned.as_ref(),
            error,
        },
    ))
}

#[get("/billing?<paid>")]
async fn billing_page(
    user: CurrentUser,
    ctx: PageContext,
    paid: Option<&str>,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let returned = paid.and_then(|p| Uuid::parse_str(p).ok());
    render_billing(&ctx, &user, db, portal, returned, None).await
}

#[derive(FromForm)]
struct CheckoutFields {
    #[field(default = 0)]
    plan: i64,
    #[field(default = String::new())]
    method: String,
    #[field(default = String::new())]
    idempotency_key: String,
}

#[post("/billing/checkout", data = "<form>")]
async fn checkout(
    form: CsrfForm<'_, CheckoutFields>,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<FormResponse, AppError> {
    let outcome = match super::forms::values(form.0) {
        Ok(f) => portal.billing(db).checkout(user.user_id(), f.plan, &f.method, &f.idempotency_key).await,
        Err(errors) => Err(BillingError::Invalid(errors)),
    };
    let (status, message) = match outcome {
        Ok(Checkout::Redirect(url)) => return Ok(FormResponse::Redirect(Redirect::to(url))),
        Ok(Checkout::Instructions(id)) => {
            return Ok(FormResponse::Redirect(Redirect::to(format!("/billing/payments/{id}"))))
        }
        Err(BillingError::Invalid(errors)) => {
            (Status::UnprocessableEntity, errors.0.into_values().collect::<Vec<_>>().join(" "))
        }
        Err(BillingError::Provider(e @ crate::payments::ProviderError::NotConfigured)) => {
            (Status::UnprocessableEntity, format!("Card payments: {e}. Choose bank transfer."))
        }
        Err(BillingError::Provider(e)) => {
            log::warn!(event = "checkout_provider_failed", error = e.to_string().as_str(); "checkout_provider_failed");
            (
                Status::ServiceUnavailable,
                "The card payment provider is not answering; nothing was charged. Try again in a minute, or pay by bank transfer."
                    .to_owned(),
            )
        }
        Err(BillingError::WrongState(state)) => (Status::Conflict, format!("This payment is already {state}.")),
        Err(BillingError::NotFound) => return Err(AppError::NotFound),
        Err(BillingError::Db(e)) => return Err(e.into()),
    };
    let page = render_billing(&ctx, &user, db, portal, None, Some(&message)).await?;
    Ok(FormResponse::Page((status, page)))
}

#[get("/billing/payments/<id>")]
async fn payment(
    id: &str,
    user: CurrentUser,
    ctx: PageContext,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Markup, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    let p = store::billing::users_payment(db.pool(), user.user_id(), id).await?.ok_or(AppError::NotFound)?;
    Ok(views::billing::payment(&ctx, &p, &portal.config.manual_payment_instructions))
}

#[get("/billing/receipts/<id>")]
async fn receipt(id: &str, user: CurrentUser, db: &Db, assets: &State<Assets>) -> Result<Markup, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    let p = store::billing::users_payment(db.pool(), user.user_id(), id)
        .await?
        .filter(|p| p.status == "paid" || p.status == "refunded")
        .ok_or(AppError::NotFound)?;
    Ok(views::billing::receipt(&p, &assets.url("pico.classless.min.css")))
}

/// The `Stripe-Signature` header, as sent.
struct StripeSignature(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StripeSignature {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(StripeSignature(req.headers().get_one("Stripe-Signature").map(str::to_owned)))
    }
}

/// Stripe's webhook: JSON, authenticated by its signature (no cookie, so no CSRF).
#[post("/webhooks/stripe", data = "<body>")]
async fn stripe_webhook(
    body: Data<'_>,
    signature: StripeSignature,
    db: &Db,
    portal: &State<Portal>,
) -> Result<Json<serde_json::Value>, AppError> {
    let payload = body.open(256.kibibytes()).into_bytes().await.map_err(|e| AppError::BadRequest(e.to_string()))?;
    if !payload.is_complete() {
        return Err(AppError::TooLarge("A webhook event is at most 256 KiB.".into()));
    }
    let billing = portal.billing(db);
    match webhooks::handle(&billing, portal.stripe.as_ref(), signature.0.as_deref(), &payload).await {
        Ok(handled) => Ok(Json(serde_json::json!({ "received": true, "applied": handled == Handled::Applied }))),
        Err(WebhookError::NotConfigured) => Err(AppError::NotFound),
        Err(e @ (WebhookError::Signature(_) | WebhookError::Malformed)) => {
            log::warn!(event = "stripe_webhook_refused", reason = e.to_string().as_str(); "stripe_webhook_refused");
            Err(AppError::BadRequest(e.to_string()))
        }
        Err(WebhookError::Billing(BillingError::Db(e))) => Err(e.into()),
        Err(WebhookError::Billing(e)) => Err(AppError::BadRequest(e.to_string())),
    }
}
