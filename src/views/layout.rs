use super::components::logout_button;
use maud::{html, Markup, PreEscaped, DOCTYPE};

pub struct NavUser {
    pub username: String,
    pub is_admin: bool,
}

pub struct Flash {
    /// `success` or `error`
    pub kind: String,
    pub message: String,
}

/// The asset URLs a page links to (fingerprinted, possibly on a CDN).
pub struct AssetUrls {
    pub htmx: String,
    pub stylesheet: String,
    pub app_stylesheet: String,
    pub icon: String,
}

/// Everything the layout needs to know about the request.
pub struct PageContext {
    pub user: Option<NavUser>,
    /// Empty on public pages shown to signed-out visitors (they carry no form).
    pub csrf: String,
    pub flash: Option<Flash>,
    pub assets: AssetUrls,
}

// htmx: no inline indicator styles (CSP), no eval, and swap every answer so that 422 forms,
// 429 and error pages show in place of the page, as they do without JavaScript.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

pub fn page(ctx: &PageContext, title: &str, body: Markup) -> Markup {
    let hx_headers = (!ctx.csrf.is_empty()).then(|| serde_json::json!({ "X-CSRF-Token": ctx.csrf }).to_string());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · Phaze Portal" }
                link rel="icon" href=(ctx.assets.icon) type="image/svg+xml";
                link rel="stylesheet" href=(ctx.assets.stylesheet);
                link rel="stylesheet" href=(ctx.assets.app_stylesheet);
                script src=(ctx.assets.htmx) defer {}
            }
            // hx-headers sits inside <body> so that a boosted swap (which replaces the body's
            // content, not its attributes) brings the new session's token along.
            body hx-boost="true" {
                div #page hx-headers=[hx_headers] {
                    header { (nav(ctx)) }
                    main id="main" {
                        @if let Some(flash) = &ctx.flash {
                            p.flash role="status" data-kind=(flash.kind) { (flash.message) }
                        }
                        (body)
                    }
                    footer { small { "Phaze Portal · " a href="/pricing" { "Pricing" } } }
                }
            }
        }
    }
}

fn nav(ctx: &PageContext) -> Markup {
    html! {
        nav {
            ul { li { a href="/" { strong { "Phaze" } } } }
            ul {
                li { a href="/pricing" { "Pricing" } }
                @if let Some(user) = &ctx.user {
                    li { a href="/dashboard" { "Dashboard" } }
                    li { a href="/usage" { "Usage" } }
                    li { a href="/billing" { "Billing" } }
                    li { a href="/support" { "Support" } }
                    @if user.is_admin { li { a href="/admin" { "Admin" } } }
                    li { a href="/account" { (user.username) } }
                    li { (logout_button(&ctx.csrf)) }
                } @else {
                    li { a href="/login" { "Log in" } }
                    li { a href="/signup" role="button" { "Sign up" } }
                }
            }
        }
    }
}

/// Text that must never be interpreted as markup, already escaped by the caller.
pub fn trusted(html: String) -> Markup {
    PreEscaped(html)
}
