//! Error pages in the layout (or problem details for JSON clients) for every status we send.
use crate::error::ErrorPage;
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::Redirect;
use rocket::{catch, catchers, Catcher};

pub fn catchers() -> Vec<Catcher> {
    catchers![unauthorized, forbidden, any_error]
}

/// Not signed in: browsers go to the login page and come back; API clients get 401.
#[catch(401)]
fn unauthorized(req: &Request<'_>) -> Result<Redirect, ErrorPage> {
    let wants_json = req.accept().is_some_and(|a| a.preferred().is_json());
    if wants_json {
        return Err(ErrorPage(Status::Unauthorized));
    }
    let next =
        if req.method() == rocket::http::Method::Get { req.uri().path().to_string() } else { "/dashboard".into() };
    Ok(Redirect::to(format!("/login?next={}", urlencode(&next))))
}

/// An admin without two-factor sign-in is sent to set it up; anyone else gets the 403 page.
#[catch(403)]
fn forbidden(req: &Request<'_>) -> Result<rocket::response::Flash<Redirect>, ErrorPage> {
    if req.local_cache(|| crate::auth::guards::NeedsTwoFactor(false)).0 {
        return Ok(rocket::response::Flash::error(
            Redirect::to("/account/two-factor"),
            "Admin pages need two-factor sign-in.",
        ));
    }
    Err(ErrorPage(Status::Forbidden))
}

#[catch(default)]
fn any_error(status: Status, _req: &Request<'_>) -> ErrorPage {
    ErrorPage(status)
}

fn urlencode(path: &str) -> String {
    rocket::http::RawStr::new(path).percent_encode().to_string()
}
