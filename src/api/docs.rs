//! The OpenAPI 3.1 documents, generated from the routes and shapes: `/api/v1/openapi.json`
//! (the deprecated customer API and the node API) and `/api/v2/openapi.json`.
use super::{node, shapes, v1, v2};
use rocket::http::ContentType;
use rocket::{get, routes};
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

const INTRO: &str = "Personal access tokens are made on the account page with the scopes they need \
(`clients:read`, `clients:write`, `account:read`, `usage:read`) and sent as `Authorization: Bearer phz_…`. \
The session cookie is never accepted. Every error is problem details (RFC 9457); a 422 lists each field's message.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Phaze Portal API", version = "2.0.0", description = INTRO),
    servers((url = "/api/v2")),
    paths(v2::list, v2::create, v2::show, v2::rename, v2::revoke, v2::config, v2::client_usage,
        v2::usage_overview, v2::connections, v2::account),
    components(schemas(shapes::Problem, shapes::FieldProblem)),
    modifiers(&Conventions),
    tags((name = "clients", description = "VPN clients: one per device"),
        (name = "usage", description = "Traffic and connection history"),
        (name = "account", description = "The account behind the token")),
)]
pub struct V2Doc;

#[derive(OpenApi)]
#[openapi(
    info(title = "Phaze Portal API v1 (deprecated) and node API", version = "1.0.0",
        description = "The customer routes are deprecated (see the `Deprecation` and `Sunset` headers on every answer) \
            in favour of `/api/v2`. The node routes are how VPN nodes pull their peers and push usage; they take the \
            node's own token."),
    servers((url = "/api/v1")),
    paths(v1::list, v1::create, v1::show, v1::revoke, v1::config, v1::account,
        node::peer_list, node::events, node::crl),
    components(schemas(shapes::Problem, shapes::FieldProblem)),
    modifiers(&Conventions),
)]
pub struct V1Doc;

/// What every operation shares: the bearer schemes, and the problem-details answers each
/// operation may give (so that a client, and the fuzzer, know every status to expect).
struct Conventions;

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

fn add_problems(op: &mut Operation, path: &str) {
    let mut statuses = vec![
        ("400", "The request is malformed"),
        ("401", "No valid token (see WWW-Authenticate)"),
        ("403", "The token lacks the scope, or the account may not do this yet"),
        ("429", "Too many requests (see Retry-After)"),
        ("503", "Briefly unavailable (see Retry-After)"),
    ];
    if path.contains('{') || op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        statuses.push(("404", "No such resource among the account's"));
        statuses.push(("422", "A field or parameter is not valid; `errors` lists each"));
    }
    if op.request_body.is_some() {
        statuses.push(("413", "The body is over 64 KiB"));
        statuses.push(("415", "The body is not application/json"));
        statuses.push(("409", "In conflict with the current state"));
    }
    for (status, description) in statuses {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description).into());
    }
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme("token", bearer("phz_…", "A personal access token with the scopes listed"));
        if doc.paths.paths.keys().any(|p| p.starts_with("/node/")) {
            components.add_security_scheme("node_token", bearer("node token", "The node's token, from add-node"));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete, &mut item.put].into_iter().flatten()
            {
                add_problems(op, path);
            }
        }
    }
}

fn v2_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| V2Doc::openapi().to_pretty_json().expect("the document serialises"))
}

fn v1_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| V1Doc::openapi().to_pretty_json().expect("the document serialises"))
}

#[get("/openapi.json")]
fn v2_document() -> (ContentType, &'static str) {
    (ContentType::JSON, v2_json())
}

#[get("/openapi.json")]
fn v1_document() -> (ContentType, &'static str) {
    (ContentType::JSON, v1_json())
}

pub fn v1_routes() -> Vec<rocket::Route> {
    routes![v1_document]
}

pub fn v2_routes() -> Vec<rocket::Route> {
    routes![v2_document]
}
