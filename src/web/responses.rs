//! Small responders shared by the pages.
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};

/// A page a CDN may cache for signed-out visitors; private for a signed-in one.
pub struct PublicPage {
    pub html: PageHtml,
    pub signed_in: bool,
    pub s_maxage: u32,
}

pub enum PageHtml {
    /// Rendered for this request.
    Fresh(maud::Markup),
    /// Rendered once and kept (a page that is the same for every signed-out visitor).
    Kept(std::sync::Arc<[u8]>),
}

impl From<maud::Markup> for PageHtml {
    fn from(markup: maud::Markup) -> Self {
        PageHtml::Fresh(markup)
    }
}

impl<'r> Responder<'r, 'static> for PublicPage {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let cache = if self.signed_in {
            "private, no-store".to_owned()
        } else {
            format!("public, max-age=60, s-maxage={}", self.s_maxage)
        };
        let mut response = match self.html {
            PageHtml::Fresh(markup) => markup.respond_to(req)?,
            PageHtml::Kept(html) => rocket::Response::build()
                .header(rocket::http::ContentType::HTML)
                .sized_body(html.len(), std::io::Cursor::new(html))
                .finalize(),
        };
        response.set_header(Header::new("Cache-Control", cache));
        Ok(response)
    }
}

/// Whether htmx sent the request (`HX-Request: true`): answer with a fragment.
pub struct HxRequest(pub bool);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for HxRequest {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(HxRequest(req.headers().get_one("HX-Request") == Some("true")))
    }
}

/// A re-rendered form with its field errors.
pub fn unprocessable(markup: maud::Markup) -> (Status, maud::Markup) {
    (Status::UnprocessableEntity, markup)
}

/// Only same-site paths are followed after login, never another origin, and only ones Rocket
/// can redirect to (a space or a quote would fail the redirect after the session was made).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && n.len() <= 512)
        .filter(|n| !n.chars().any(char::is_control))
        .filter(|n| rocket::http::uri::Origin::parse(n).is_ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_same_site_only() {
        assert_eq!(safe_next(Some("/account")).as_deref(), Some("/account"));
        assert_eq!(safe_next(Some("//evil.example")), None);
        assert_eq!(safe_next(Some("https://evil.example")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(None), None);
        assert_eq!(safe_next(Some("/clients/1?after=5-3")).as_deref(), Some("/clients/1?after=5-3"));
        assert_eq!(safe_next(Some("/a%20b")).as_deref(), Some("/a%20b"));
        for hostile in ["/a b", "/a\"b", "/a<b>", "/\u{0}x", "/a\nb", "/é", "/a{b}"] {
            assert_eq!(safe_next(Some(hostile)), None, "{hostile:?}");
        }
    }
}
