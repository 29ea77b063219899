//! CSRF: every state-changing form carries a token, as a `_csrf` field or an `X-CSRF-Token`
//! header (htmx sends it from the layout's `hx-headers`). Signed in, the token belongs to the
//! session; before sign-in it is a random cookie the form must echo (double submit).
use super::guards::resolve_session;
use super::tokens::same_secret;
use super::ANON_CSRF_COOKIE;
use rocket::data::{self, Data, FromData};
use rocket::form::{Contextual, Form, FromForm};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::Request;

pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A form whose CSRF token has been checked; its fields are parsed leniently so that each
/// error can be shown next to its field.
pub struct CsrfForm<'r, T>(pub Contextual<'r, T>);

/// The token this request must carry, if it can carry any.
pub async fn expected_token(req: &Request<'_>) -> Option<String> {
    match &resolve_session(req).await.0 {
        Ok(Some(user)) => Some(user.session.csrf_token.clone()),
        _ => req.cookies().get(ANON_CSRF_COOKIE).map(|c| c.value().to_owned()),
    }
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r> + Send + 'r> FromData<'r> for CsrfForm<'r, T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let expected = expected_token(req).await;
        let form = match Form::<Contextual<'r, T>>::from_data(req, data).await {
            Outcome::Success(form) => form.into_inner(),
            Outcome::Error((status, _)) => return Outcome::Error((status, ())),
            Outcome::Forward(f) => return Outcome::Forward(f),
        };
        let header = req.headers().get_one(CSRF_HEADER);
        let field = form.context.field_value(CSRF_FIELD);
        match expected {
            Some(expected) if [header, field].into_iter().flatten().any(|t| same_secret(&expected, t)) => {
                Outcome::Success(CsrfForm(form))
            }
            _ => {
                log::warn!(event = "csrf_rejected"; "csrf_rejected");
                Outcome::Error((Status::Forbidden, ()))
            }
        }
    }
}
