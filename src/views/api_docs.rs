//! The API reference: Swagger UI (vendored) over an OpenAPI document. A page of its own, not in
//! the layout: its stylesheet is Swagger UI's, and its scripts are files (the CSP allows no inline
//! script).
use maud::{html, Markup, DOCTYPE};

pub struct ReferenceAssets {
    pub bundle: String,
    pub stylesheet: String,
    pub starter: String,
    pub icon: String,
}

pub fn reference(version: &str, spec_url: &str, assets: &ReferenceAssets) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "API " (version) " reference · Phaze Portal" }
                link rel="icon" href=(assets.icon) type="image/svg+xml";
                link rel="stylesheet" href=(assets.stylesheet);
                script src=(assets.bundle) defer {}
                script src=(assets.starter) defer {}
            }
            body {
                nav.api-versions {
                    a href="/" { "Phaze Portal" } " · API reference: "
                    @if version == "v2" { strong { "v2" } } @else { a href="/api/docs" { "v2" } }
                    " · "
                    @if version == "v1" { strong { "v1 (deprecated) and node API" } } @else { a href="/api/docs/v1" { "v1 (deprecated) and node API" } }
                    " · " a href=(spec_url) { "openapi.json" }
                    " · " a href="/account/tokens" { "Your API tokens" }
                }
                noscript { p { "The interactive reference needs JavaScript; the document itself is at " a href=(spec_url) { (spec_url) } "." } }
                div #api-reference data-spec-url=(spec_url) {}
            }
        }
    }
}
