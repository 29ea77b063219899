//! Static assets: loaded once at start, served at fingerprinted URLs
//! (`/static/htmx.min.HASH.js`) with gzip and brotli variants made ahead. Files over
//! `COMPRESS_AT_START_MAX` are not compressed at start (it would slow every start): their
//! variants are the `NAME.gz` / `NAME.br` files beside them, made when they were vendored.
use rocket::http::ContentType;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

pub struct Asset {
    pub content_type: ContentType,
    pub etag: String,
    pub body: Arc<[u8]>,
    pub gzip: Option<Arc<[u8]>>,
    pub brotli: Option<Arc<[u8]>>,
}

/// The largest file compressed when the portal starts.
const COMPRESS_AT_START_MAX: usize = 128 * 1024;

pub struct Assets {
    /// Fingerprinted file name → the asset.
    files: HashMap<String, Arc<Asset>>,
    /// Plain file name → the URL pages use for it.
    urls: HashMap<String, String>,
    base_url: String,
}

impl Assets {
    /// Reads every file in `dir` (not recursive); `base_url` is a CDN origin or empty.
    pub fn load(dir: &Path, base_url: &str) -> io::Result<Self> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let mut assets = Assets { files: HashMap::new(), urls: HashMap::new(), base_url };
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.file_type()?.is_file() || name.starts_with('.') || name.ends_with(".gz") || name.ends_with(".br")
            {
                continue;
            }
            let body = std::fs::read(entry.path())?;
            let hash = hex::encode(&Sha256::digest(&body)[..8]);
            let fingerprinted = fingerprint(&name, &hash);
            let content_type = Path::new(&name)
                .extension()
                .and_then(|e| ContentType::from_extension(&e.to_string_lossy()))
                .unwrap_or(ContentType::Binary);
            let compressible = content_type.is_javascript()
                || content_type.is_css()
                || content_type.is_svg()
                || content_type.is_json()
                || content_type.is_plain();
            let (gzip, brotli) = if compressible && body.len() > COMPRESS_AT_START_MAX {
                let made_ahead = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).ok();
                (made_ahead("gz").and_then(|z| smaller(&body, z)), made_ahead("br").and_then(|b| smaller(&body, b)))
            } else if compressible {
                (smaller(&body, gzip(&body)?), smaller(&body, brotli(&body)?))
            } else {
                (None, None)
            };
            let url = format!("{}/static/{fingerprinted}", assets.base_url);
            assets.urls.insert(name, url);
            assets.files.insert(
                fingerprinted,
                Arc::new(Asset { content_type, etag: format!("\"{hash}\""), body: body.into(), gzip, brotli }),
            );
        }
        Ok(assets)
    }

    /// The URL of a file of static/ (the CDN's when ASSET_BASE_URL is set).
    pub fn url(&self, name: &str) -> String {
        self.urls.get(name).cloned().unwrap_or_else(|| format!("{}/static/{name}", self.base_url))
    }

    pub fn get(&self, fingerprinted_name: &str) -> Option<Arc<Asset>> {
        self.files.get(fingerprinted_name).cloned()
    }

    /// The CDN origin, for the Content-Security-Policy.
    pub fn origin(&self) -> &str {
        &self.base_url
    }
}

/// `htmx.min.js` + `0a1b` → `htmx.min.0a1b.js`
fn fingerprint(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

fn smaller(original: &[u8], compressed: Vec<u8>) -> Option<Arc<[u8]>> {
    (compressed.len() < original.len()).then(|| compressed.into())
}

fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body)?;
    encoder.finish()
}

fn brotli(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, ..Default::default() };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_keep_the_extension() {
        assert_eq!(fingerprint("htmx.min.js", "abc"), "htmx.min.abc.js");
        assert_eq!(fingerprint("LICENSE", "abc"), "LICENSE.abc");
    }

    #[test]
    fn static_dir_loads_with_compressed_variants() {
        let assets = Assets::load(Path::new("static"), "https://cdn.example.com/").unwrap();
        let url = assets.url("htmx.min.js");
        assert!(url.starts_with("https://cdn.example.com/static/htmx.min."), "{url}");
        let asset = assets.get(url.rsplit('/').next().unwrap()).unwrap();
        assert!(asset.content_type.is_javascript());
        assert!(asset.brotli.as_ref().unwrap().len() < asset.gzip.as_ref().unwrap().len());
        // The vendored API reference is compressed ahead, not at start; its .gz is not an asset.
        let bundle = assets.url("swagger-ui-bundle.js");
        let bundle = assets.get(bundle.rsplit('/').next().unwrap()).unwrap();
        let gzip = bundle.gzip.as_ref().expect("the .gz made when it was vendored");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut unzipped).unwrap();
        assert_eq!(&unzipped[..], &bundle.body[..]);
        assert!(!assets.urls.contains_key("swagger-ui-bundle.js.gz"));
    }
}
