//! `/api/docs` (v2) and `/api/docs/v1`: the API reference pages.
use crate::assets::Assets;
use crate::views::api_docs::{reference, ReferenceAssets};
use maud::Markup;
use rocket::http::Header;
use rocket::{get, routes, Responder, State};

pub fn routes() -> Vec<rocket::Route> {
    routes![v2_reference, v1_reference]
}

/// The page may be cached by anyone for a while: it is the same for every visitor.
#[derive(Responder)]
pub struct ReferencePage {
    page: Markup,
    cache: Header<'static>,
}

fn page(version: &str, spec_url: &str, assets: &Assets) -> ReferencePage {
    let urls = ReferenceAssets {
        bundle: assets.url("swagger-ui-bundle.js"),
        stylesheet: assets.url("swagger-ui.css"),
        starter: assets.url("api-reference.js"),
        icon: assets.url("favicon.svg"),
    };
    ReferencePage {
        page: reference(version, spec_url, &urls),
        cache: Header::new("Cache-Control", "public, max-age=300, s-maxage=3600"),
    }
}

#[get("/api/docs")]
fn v2_reference(assets: &State<Assets>) -> ReferencePage {
    page("v2", "/api/v2/openapi.json", assets)
}

#[get("/api/docs/v1")]
fn v1_reference(assets: &State<Assets>) -> ReferencePage {
    page("v1", "/api/v1/openapi.json", assets)
}
