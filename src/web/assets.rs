//! `/static/NAME.HASH.EXT`: immutable, ETag'd, brotli or gzip by Accept-Encoding.
use crate::assets::{Asset, Assets};
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, State};
use std::io::Cursor;
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![asset]
}

pub struct AssetResponse(Arc<Asset>);

#[get("/static/<name>")]
fn asset(name: &str, assets: &State<Assets>) -> Option<AssetResponse> {
    assets.get(name).map(AssetResponse)
}

/// Whether `Accept-Encoding` allows `coding` (present and not `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let name = pieces.next().unwrap_or_default();
        let q_zero = pieces.any(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        name.eq_ignore_ascii_case(coding) && !q_zero
    })
}

impl<'r> Responder<'r, 'static> for AssetResponse {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let asset = self.0;
        let mut response = Response::build();
        response
            .header(asset.content_type.clone())
            .header(Header::new("Cache-Control", "public, max-age=31536000, immutable"))
            .header(Header::new("ETag", asset.etag.clone()))
            .header(Header::new("Vary", "Accept-Encoding"));
        if req.headers().get("If-None-Match").any(|tag| tag == asset.etag || tag == "*") {
            return response.status(Status::NotModified).ok();
        }
        let accept = req.headers().get("Accept-Encoding").collect::<Vec<_>>().join(",");
        let (body, encoding) = match (&asset.brotli, &asset.gzip) {
            (Some(br), _) if accepts(&accept, "br") => (Arc::clone(br), Some("br")),
            (_, Some(gz)) if accepts(&accept, "gzip") => (Arc::clone(gz), Some("gzip")),
            _ => (Arc::clone(&asset.body), None),
        };
        if let Some(encoding) = encoding {
            response.header(Header::new("Content-Encoding", encoding));
        }
        response.sized_body(body.len(), Cursor::new(body)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_encoding_is_parsed() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip;q=0.5, br;q=1.0", "gzip"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
    }
}
