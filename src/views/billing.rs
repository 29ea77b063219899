//! Pricing, the billing page, a payment, its receipt.
use super::account::{date, date_time};
use super::components::csrf_input;
use super::{page, PageContext};
use crate::domain::billing::money;
use crate::domain::usage::human_bytes;
use crate::store::billing::{Payment, Plan, SubscriptionView};
use maud::{html, Markup, PreEscaped, DOCTYPE};

fn period(days: i32) -> String {
    match days {
        30 | 31 => "month".into(),
        365 | 366 => "year".into(),
        7 => "week".into(),
        d => format!("{d} days"),
    }
}

fn limits(plan: &Plan) -> Markup {
    html! {
        ul {
            li { "Up to " (plan.max_clients) " devices" }
            li { @match plan.data_limit_bytes { Some(b) => { (human_bytes(b)) " of data per period" }, None => "Unlimited data" } }
            li { "WireGuard, OpenVPN and PhazeVPN" }
        }
    }
}

/// The plan cards of the pricing page: the same for every visitor (cached, CDN-cacheable).
pub fn plan_cards(plans: &[Plan]) -> Markup {
    html! {
        div.plans #plan-cards {
            @for plan in plans {
                article.plan data-plan=(plan.id) {
                    header { strong { (plan.name) } }
                    p.price {
                        @if plan.price_cents == 0 { "Free" } @else {
                            strong { (money(plan.price_cents, &plan.currency)) } " / " (period(plan.period_days))
                        }
                    }
                    (limits(plan))
                    footer {
                        @if plan.free { a href="/signup" { "Start free" } }
                        @else { a href={ "/billing#plan-" (plan.id) } role="button" { "Choose " (plan.name) } }
                    }
                }
            }
            @if plans.is_empty() { p { "No plans are on offer right now." } }
        }
    }
}

pub fn pricing(ctx: &PageContext, cards: Markup) -> Markup {
    page(
        ctx,
        "Pricing",
        html! {
            h1 { "Pricing" }
            p { "One account, every protocol. Pay by card or by bank transfer; a plan you buy while another runs starts when it ends." }
            (cards)
        },
    )
}

/// What the billing page shows.
pub struct BillingPage<'a> {
    pub plan_name: Option<&'a str>,
    pub subscription: Option<&'a SubscriptionView>,
    pub paid: bool,
    pub plans: &'a [Plan],
    pub payments: &'a [Payment],
    pub card_payments: bool,
    /// A fresh key per form shown, so a double submit makes one payment.
    pub idempotency_key: &'a str,
    /// Back from the provider with this payment.
    pub returned: Option<&'a Payment>,
    pub error: Option<&'a str>,
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Waiting for payment",
        "paid" => "Paid",
        "failed" => "Failed",
        "refunded" => "Refunded",
        _ => "Unknown",
    }
}

fn payments_table(payments: &[Payment]) -> Markup {
    html! {
        table #payments {
            thead { tr { th { "Date" } th { "Plan" } th { "Amount" } th { "Method" } th { "Status" } th {} } }
            tbody {
                @for p in payments {
                    tr data-status=(p.status) {
                        td { (date(p.created_at)) }
                        td { (p.plan_name) }
                        td { (money(p.amount_cents, &p.currency)) }
                        td { @if p.provider == "stripe" { "Card" } @else { "Bank transfer" } }
                        td { (status_label(&p.status)) }
                        td {
                            @if p.status == "paid" || p.status == "refunded" {
                                a href={ "/billing/receipts/" (p.id) } { "Receipt" }
                            } @else if p.status == "pending" && p.provider == "manual" {
                                a href={ "/billing/payments/" (p.id) } { "How to pay" }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn billing(ctx: &PageContext, b: &BillingPage) -> Markup {
    page(
        ctx,
        "Billing",
        html! {
            h1 { "Billing" }
            @if let Some(error) = b.error { p.form-error role="alert" #billing-error { (error) } }
            @if let Some(p) = b.returned {
                p.flash #payment-return data-status=(p.status) {
                    @if p.status == "paid" { "Thank you: your payment is confirmed." }
                    @else { "Thank you: we are waiting for the payment provider to confirm your payment. This page shows it once it does." }
                }
            }
            section #current-plan {
                h2 { "Your plan" }
                dl {
                    dt { "Plan" } dd #plan-name { (b.plan_name.unwrap_or("None")) }
                    @if let (Some(s), true) = (b.subscription, b.paid) {
                        dt { "Paid until" } dd #period-end { (date_time(s.current_period_end)) }
                        @if let (Some(next), Some(from)) = (&s.next_plan_name, s.next_plan_from) {
                            dt { "Next" } dd #next-plan { (next) " from " (date_time(from)) }
                        }
                    }
                }
                @if b.plan_name.is_none() { p { "Choose a plan below to connect your devices." } }
            }
            section #buy {
                h2 { @if b.paid { "Extend or change your plan" } @else { "Choose a plan" } }
                div.plans {
                    @for plan in b.plans.iter().filter(|p| !p.free) {
                        article.plan id={ "plan-" (plan.id) } {
                            header { strong { (plan.name) } " · " (money(plan.price_cents, &plan.currency)) " / " (period(plan.period_days)) }
                            (limits(plan))
                            footer {
                                @if b.card_payments {
                                    (checkout_form(ctx, plan.id, "card", "Pay by card", b.idempotency_key))
                                }
                                (checkout_form(ctx, plan.id, "manual", "Pay by bank transfer", b.idempotency_key))
                            }
                        }
                    }
                }
            }
            section #payment-history {
                h2 { "Payments" }
                @if b.payments.is_empty() { p { "No payments yet." } } @else { (payments_table(b.payments)) }
            }
        },
    )
}

fn checkout_form(ctx: &PageContext, plan_id: i64, method: &str, label: &str, key: &str) -> Markup {
    html! {
        form method="post" action="/billing/checkout" hx-boost="false" {
            (csrf_input(&ctx.csrf))
            input type="hidden" name="plan" value=(plan_id);
            input type="hidden" name="method" value=(method);
            input type="hidden" name="idempotency_key" value={ (key) "-" (plan_id) "-" (method) };
            button type="submit" class=@if method == "card" { "" } @else { "secondary" } { (label) }
        }
    }
}

/// A payment on its own page: what to do for a manual one still to pay.
pub fn payment(ctx: &PageContext, p: &Payment, instructions: &str) -> Markup {
    page(
        ctx,
        "Payment",
        html! {
            h1 { "Payment for " (p.plan_name) }
            dl #payment data-status=(p.status) {
                dt { "Amount" } dd #payment-amount { (money(p.amount_cents, &p.currency)) }
                dt { "Status" } dd #payment-status { (status_label(&p.status)) }
                @if let Some(reference) = &p.provider_ref { @if p.provider == "manual" {
                    dt { "Reference" } dd { code #payment-reference { (reference) } }
                } }
                @if let Some(failure) = &p.failure { dt { "Why it failed" } dd { (failure) } }
            }
            @if p.status == "pending" && p.provider == "manual" {
                p #payment-instructions { (instructions) }
                p { "Quote the reference exactly, so that we can match your payment. We email you a receipt when it arrives." }
            }
            @if p.status == "paid" || p.status == "refunded" { p { a href={ "/billing/receipts/" (p.id) } { "Receipt" } } }
            p { a href="/billing" { "Back to billing" } }
        },
    )
}

/// A printable receipt: a page of its own, without the site's navigation.
pub fn receipt(p: &Payment, stylesheet: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Receipt " (p.id) }
                link rel="stylesheet" href=(stylesheet);
            }
            body {
                main.receipt #receipt data-status=(p.status) {
                    h1 { "Receipt" }
                    p { "Phaze VPN" }
                    dl {
                        dt { "Receipt number" } dd { code { (p.id) } }
                        dt { "Billed to" } dd { (p.username) " <" (p.email) ">" }
                        dt { "Paid on" } dd #receipt-paid-at { (p.paid_at.map(date_time).unwrap_or_default()) }
                        dt { "Item" } dd { (p.plan_name) " plan, " (p.period_days) " days" }
                        dt { "Amount" } dd #receipt-amount { (money(p.amount_cents, &p.currency)) }
                        dt { "Paid by" } dd { @if p.provider == "stripe" { "Card" } @else { "Bank transfer" } }
                        @if let Some(at) = p.refunded_at { dt { "Refunded on" } dd #receipt-refunded { (date_time(at)) } }
                    }
                    p.no-print { a href="/billing" { "Back to billing" } " · " (PreEscaped("Use your browser&rsquo;s Print command to keep a copy.")) }
                }
            }
        }
    }
}
