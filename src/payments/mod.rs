//! Payment providers behind one interface: Stripe-compatible checkout with signed webhooks, and
//! manual payments (bank transfer, crypto, cash) that an admin confirms.
pub mod manual;
pub mod stripe;

use uuid::Uuid;

/// What starting a payment needs to tell the provider.
pub struct CheckoutRequest<'a> {
    pub payment_id: Uuid,
    pub plan_name: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub customer_email: &'a str,
    /// Where the provider sends the user back to.
    pub return_url: &'a str,
    pub cancel_url: &'a str,
}

/// How the payment goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The user pays on the provider's page.
    Redirect { provider_ref: String, url: String },
    /// The user pays outside the portal quoting `reference`; an admin confirms it.
    Instructions { reference: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("this way of paying is not set up")]
    NotConfigured,
    #[error("the payment provider did not answer as expected: {0}")]
    Unavailable(String),
}

/// One provider interface, two providers.
pub enum Provider<'a> {
    Stripe(&'a stripe::Stripe),
    Manual,
}

impl Provider<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Stripe(_) => "stripe",
            Provider::Manual => "manual",
        }
    }

    /// A reference known before the provider is asked (manual payments), if any.
    pub fn reference(&self) -> Option<String> {
        match self {
            Provider::Stripe(_) => None,
            Provider::Manual => Some(manual::new_reference()),
        }
    }

    pub async fn start(
        &self,
        request: &CheckoutRequest<'_>,
        reference: Option<&str>,
    ) -> Result<Started, ProviderError> {
        match self {
            Provider::Stripe(stripe) => stripe.create_checkout(request).await,
            Provider::Manual => Ok(Started::Instructions { reference: reference.unwrap_or_default().to_owned() }),
        }
    }
}
