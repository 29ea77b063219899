use super::{page, PageContext};
use maud::{html, Markup};
use rocket::http::Status;

pub fn default_message(status: Status) -> String {
    match status.code {
        400 => "The request could not be understood.",
        401 => "Please log in to see this page.",
        403 => "You are not allowed to do that. If you submitted a form, reload the page and try again.",
        404 => "There is nothing here.",
        409 => "That cannot be done in the current state.",
        413 => "That is more data than we accept.",
        422 => "Some of what you sent is not valid.",
        429 => "Too many attempts. Please wait a while and try again.",
        503 => "The service is briefly unavailable. Please try again in a few seconds.",
        _ => "Something went wrong on our side. It has been logged and we will look into it.",
    }
    .to_owned()
}

pub fn retry_message(retry_after_secs: u64) -> String {
    let minutes = retry_after_secs.div_ceil(60);
    format!("Too many attempts. Please try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
}

pub fn error_page(ctx: &PageContext, status: Status, detail: &str) -> Markup {
    let title = status.reason().unwrap_or("Error");
    page(
        ctx,
        title,
        html! {
            article.narrow.error-page {
                h1 { (status.code) " · " (title) }
                p { (detail) }
                p { a href="/" { "Back to the start page" } }
            }
        },
    )
}
