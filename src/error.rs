//! One error type for every handler: a user-safe message and status, the cause logged once.
use crate::views;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};

#[derive(Debug)]
pub enum AppError {
    BadRequest(String),
    /// No or wrong credentials for the API (401 with `WWW-Authenticate`).
    Unauthorized(String),
    /// Well-formed but not acceptable (422), e.g. a batch over its size.
    Unprocessable(String),
    /// Fields that are not valid (422): problem details list each field's message.
    Invalid(crate::domain::FieldErrors),
    /// The body is over its size limit (413).
    TooLarge(String),
    /// The body is not of a media type the route reads (415).
    UnsupportedMediaType(String),
    Forbidden(String),
    NotFound,
    /// The request conflicts with the state of the thing (e.g. revoking twice).
    Conflict(String),
    RateLimited {
        retry_after_secs: u64,
    },
    /// A store we depend on is down (503 with Retry-After); the cause is logged.
    Unavailable(String),
    /// A bug or an unexpected failure (500); the cause is logged, never shown.
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::Unauthorized(_) => Status::Unauthorized,
            AppError::Unprocessable(_) | AppError::Invalid(_) => Status::UnprocessableEntity,
            AppError::TooLarge(_) => Status::PayloadTooLarge,
            AppError::UnsupportedMediaType(_) => Status::UnsupportedMediaType,
            AppError::Forbidden(_) => Status::Forbidden,
            AppError::NotFound => Status::NotFound,
            AppError::Conflict(_) => Status::Conflict,
            AppError::RateLimited { .. } => Status::TooManyRequests,
            AppError::Unavailable(_) => Status::ServiceUnavailable,
            AppError::Internal(_) => Status::InternalServerError,
        }
    }

    /// The message a user may see.
    pub fn public_message(&self) -> String {
        match self {
            AppError::BadRequest(m)
            | AppError::Unauthorized(m)
            | AppError::Unprocessable(m)
            | AppError::TooLarge(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m) => m.clone(),
            AppError::Invalid(errors) => errors.0.values().cloned().collect::<Vec<_>>().join(" "),
            AppError::RateLimited { retry_after_secs } => views::errors::retry_message(*retry_after_secs),
            AppError::Unavailable(_) | AppError::Internal(_) | AppError::NotFound => {
                views::errors::default_message(self.status())
            }
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                AppError::Unavailable(format!("database: {e}"))
            }
            e if crate::store::connection_lost(&e) => {
                crate::db::suspect_connections();
                AppError::Unavailable(format!("database: {e}"))
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<crate::domain::clients::ClientError> for AppError {
    fn from(e: crate::domain::clients::ClientError) -> Self {
        use crate::domain::clients::ClientError;
        match e {
            ClientError::Invalid(errors) => AppError::Invalid(errors),
            ClientError::LimitReached { max } => AppError::Conflict(format!("You already have {max} active clients.")),
            e @ ClientError::AddressesHeld { .. } => AppError::Conflict(e.user_message()),
            ClientError::RateLimited { retry_after_secs } => AppError::RateLimited { retry_after_secs },
            ClientError::NotFound => AppError::NotFound,
            ClientError::Revoked => AppError::Conflict("This client is revoked.".into()),
            e @ (ClientError::EmailUnverified | ClientError::NoPlan) => AppError::Forbidden(e.to_string()),
            ClientError::Db(e) => e.into(),
            ClientError::Keys(cause) => AppError::Internal(cause),
        }
    }
}

impl From<crate::domain::accounts::AccountError> for AppError {
    fn from(e: crate::domain::accounts::AccountError) -> Self {
        use crate::domain::accounts::AccountError;
        match e {
            AccountError::Invalid(errors) => AppError::BadRequest(errors.0.into_values().collect::<Vec<_>>().join(" ")),
            AccountError::RateLimited { retry_after_secs } => AppError::RateLimited { retry_after_secs },
            AccountError::Db(e) => e.into(),
        }
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status();
        match &self {
            AppError::Unavailable(cause) => log::error!(event = "dependency_unavailable"; "{cause}"),
            AppError::Internal(cause) => log::error!(event = "internal_error"; "{cause}"),
            _ => {}
        }
        let fields = match &self {
            AppError::Invalid(errors) => Some(errors),
            _ => None,
        };
        let mut response = problem_or_page(req, status, &self.public_message(), fields)?;
        match self {
            AppError::RateLimited { retry_after_secs } => {
                response.set_header(Header::new("Retry-After", retry_after_secs.to_string()));
            }
            AppError::Unavailable(_) => {
                response.set_header(Header::new("Retry-After", "5"));
            }
            AppError::Unauthorized(_) => {
                response.set_header(Header::new("WWW-Authenticate", "Bearer realm=\"phaze-portal\""));
            }
            _ => {}
        }
        Ok(response)
    }
}

/// The error as a page in the layout, or as problem details (RFC 9457) to a JSON client.
pub fn error_response(req: &Request<'_>, status: Status, detail: &str) -> response::Result<'static> {
    problem_or_page(req, status, detail, None)
}

/// Problem details (RFC 9457): `errors` lists each invalid field with its message.
fn problem_json(status: Status, detail: &str, fields: Option<&crate::domain::FieldErrors>) -> String {
    let mut problem = serde_json::json!({
        "type": "about:blank",
        "title": status.reason().unwrap_or("Error"),
        "status": status.code,
        "detail": detail,
    });
    if let Some(fields) = fields {
        problem["errors"] =
            fields.0.iter().map(|(field, message)| serde_json::json!({ "field": field, "message": message })).collect();
    }
    problem.to_string()
}

fn problem_or_page(
    req: &Request<'_>,
    status: Status,
    detail: &str,
    fields: Option<&crate::domain::FieldErrors>,
) -> response::Result<'static> {
    let wants_json = req.accept().is_some_and(|a| a.preferred().is_json()) || req.uri().path().starts_with("/api/");
    let mut response = if wants_json {
        let body = problem_json(status, detail, fields);
        Response::build()
            .header(rocket::http::ContentType::new("application", "problem+json"))
            .sized_body(body.len(), std::io::Cursor::new(body))
            .finalize()
    } else {
        let ctx = crate::web::context::for_error_page(req);
        let html = views::errors::error_page(&ctx, status, detail).into_string();
        Response::build()
            .header(rocket::http::ContentType::HTML)
            .sized_body(html.len(), std::io::Cursor::new(html))
            .finalize()
    };
    response.set_status(status);
    Ok(response)
}

/// The page (or problem details, for JSON clients and under `/api/`) for a bare status, as the
/// catchers answer it, with `Retry-After` where the status calls for one.
pub struct ErrorPage(pub Status);

impl<'r> Responder<'r, 'static> for ErrorPage {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = error_response(req, self.0, &views::errors::default_message(self.0))?;
        match self.0.code {
            503 => {
                response.set_header(Header::new("Retry-After", "5"));
            }
            429 => {
                response.set_header(Header::new("Retry-After", "60"));
            }
            _ => {}
        }
        Ok(response)
    }
}
