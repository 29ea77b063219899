use crate::helpers::*;
use rocket::http::{Header, Status};

fn asset_url(page: &str, prefix: &str) -> String {
    let start = page.find(prefix).unwrap_or_else(|| panic!("{prefix} linked"));
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[rocket::async_test]
async fn htmx_is_served_fingerprinted_immutable_and_precompressed() {
    let app = TestApp::spawn().await;
    let (_, page) = app.page("/").await;
    let url = asset_url(&page, "/static/htmx.min.");
    let hash = url.trim_start_matches("/static/htmx.min.").trim_end_matches(".js");
    assert_eq!(hash.len(), 16);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let original = std::fs::read("static/htmx.min.js").unwrap();

    let plain = app.client.get(url.clone()).dispatch().await;
    assert_eq!(plain.status(), Status::Ok);
    assert_eq!(header(&plain, "Cache-Control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(header(&plain, "Content-Type"), Some("text/javascript"));
    assert_eq!(header(&plain, "Vary"), Some("Accept-Encoding"));
    assert!(header(&plain, "Content-Encoding").is_none());
    let etag = header(&plain, "ETag").unwrap().to_owned();
    assert_eq!(plain.into_bytes().await.unwrap(), original);

    let br = app.client.get(url.clone()).header(Header::new("Accept-Encoding", "gzip, deflate, br")).dispatch().await;
    assert_eq!(header(&br, "Content-Encoding"), Some("br"));
    let compressed = br.into_bytes().await.unwrap();
    assert!(compressed.len() < original.len() / 3);
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut decoded).unwrap();
    assert_eq!(decoded, original);

    let gz = app.client.get(url.clone()).header(Header::new("Accept-Encoding", "gzip")).dispatch().await;
    assert_eq!(header(&gz, "Content-Encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz.into_bytes().await.unwrap()[..]), &mut decoded)
        .unwrap();
    assert_eq!(decoded, original);

    let again = app.client.get(url.clone()).header(Header::new("If-None-Match", etag)).dispatch().await;
    assert_eq!(again.status(), Status::NotModified);
    drop(again);

    assert_eq!(app.get("/static/htmx.min.0000000000000000.js").await.status(), Status::NotFound);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), Status::NotFound);
}

#[rocket::async_test]
async fn asset_base_url_points_every_asset_at_the_cdn() {
    let app = TestApp::spawn_with(|f| f.merge(("asset_base_url", "https://cdn.example.net/"))).await;
    let response = app.get("/").await;
    let csp = header(&response, "Content-Security-Policy").unwrap().to_owned();
    let page = response.into_string().await.unwrap();
    for asset in ["htmx.min.", "pico.classless.min.", "app.", "favicon."] {
        asset_url(&page, &format!("https://cdn.example.net/static/{asset}"));
    }
    assert!(!page.contains(r#""/static/"#), "no same-origin asset URL left");
    assert!(csp.contains("script-src 'self' https://cdn.example.net;"), "{csp}");
}
