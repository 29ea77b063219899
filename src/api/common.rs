//! What the customer API's routes share: the JSON body (415, 413, 400, 422 as problem
//! details), answers with a strong ETag (304 on `If-None-Match`), and the catcher under `/api`
//! (problem details for every status: never the login redirect or an HTML page).
use crate::domain::{peers, FieldErrors};
use crate::error::{AppError, ErrorPage};
use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::{catch, catchers, Catcher};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::io::Cursor;

/// The largest JSON body the customer API reads.
pub const BODY_LIMIT_BYTES: u64 = 64 * 1024;

/// A JSON body and its bytes (the Idempotency-Key's fingerprint), or the problem with it.
pub struct Body<T>(pub Result<(T, Vec<u8>), AppError>);

impl<T> Body<T> {
    pub fn value(self) -> Result<T, AppError> {
        self.0.map(|(value, _)| value)
    }
}

/// Which field a serde data error is about, when it says.
fn field_of(e: &serde_json::Error) -> String {
    let message = e.to_string();
    message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"))
        .unwrap_or("body")
        .to_owned()
}

fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::Invalid(FieldErrors::single(
            field_of(&e),
            format!("{}.", e.to_string().split(" at line ").next().unwrap_or("Not the expected shape")),
        )),
        _ => AppError::BadRequest(format!("The body is not valid JSON: {e}.")),
    })
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for Body<T> {
    type Error = Infallible;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if !req.content_type().is_some_and(|c| c.is_json()) {
            return data::Outcome::Success(Body(Err(AppError::UnsupportedMediaType(
                "Send the body as Content-Type: application/json.".into(),
            ))));
        }
        let body = match data.open(BODY_LIMIT_BYTES.bytes()).into_bytes().await {
            Ok(bytes) if bytes.is_complete() => {
                let bytes = bytes.into_inner();
                read(&bytes).map(|value| (value, bytes))
            }
            Ok(_) => Err(AppError::TooLarge(format!("The body is over {} KiB.", BODY_LIMIT_BYTES / 1024))),
            Err(_) => Err(AppError::BadRequest("The body could not be read.".into())),
        };
        data::Outcome::Success(Body(body))
    }
}

/// The query's parameters, read strictly: each at most once.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameter's value; None when absent; 422 when given more than once.
    pub fn once(&self, name: &str) -> Result<Option<&str>, AppError> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        match (values.next(), values.next()) {
            (first, None) => Ok(first),
            _ => Err(AppError::Invalid(FieldErrors::single(name, format!("Give {name} at most once.")))),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Params {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        let pairs = req
            .uri()
            .query()
            .map_or_else(Vec::new, |q| q.segments().map(|(key, value)| (key.to_owned(), value.to_owned())).collect());
        request::Outcome::Success(Params(pairs))
    }
}

/// The request's `If-None-Match`, if any.
pub struct IfNoneMatch(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IfNoneMatch {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(IfNoneMatch(req.headers().get_one("If-None-Match").map(str::to_owned)))
    }
}

/// An answer: a status, a body and its headers.
pub struct Answer {
    status: Status,
    content_type: ContentType,
    body: String,
    headers: Vec<Header<'static>>,
}

impl Answer {
    pub fn json<T: Serialize>(status: Status, value: &T) -> Answer {
        let body = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
        Answer { status, content_type: ContentType::JSON, body, headers: Vec::new() }
    }

    /// A body kept from an earlier answer (an Idempotency-Key's replay).
    pub fn raw_json(status: Status, body: String) -> Answer {
        Answer { status, content_type: ContentType::JSON, body, headers: Vec::new() }
    }

    pub fn file(content_type: ContentType, body: String) -> Answer {
        Answer { status: Status::Ok, content_type, body, headers: Vec::new() }
    }

    pub fn empty(status: Status) -> Answer {
        Answer { status, content_type: ContentType::JSON, body: String::new(), headers: Vec::new() }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push(Header::new(name, value.into()));
        self
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Tags the body with a strong ETag (its SHA-256); 304 without a body when the request
    /// already holds it. Nothing between may keep a copy without asking again.
    pub fn tagged(mut self, if_none_match: &IfNoneMatch) -> Answer {
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(self.body.as_bytes())[..16]));
        if if_none_match.0.as_deref().is_some_and(|inm| peers::matches(inm, &etag)) {
            self.status = Status::NotModified;
            self.body.clear();
        }
        self.header("ETag", etag).header("Cache-Control", "private, no-cache")
    }
}

impl<'r> Responder<'r, 'static> for Answer {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.status(self.status);
        if !self.body.is_empty() {
            response.header(self.content_type).sized_body(self.body.len(), Cursor::new(self.body));
        }
        for header in self.headers {
            response.header(header);
        }
        Ok(response.finalize())
    }
}

#[catch(default)]
fn api_error(status: Status, _req: &Request<'_>) -> ErrorPage {
    ErrorPage(status)
}

/// Catchers for `/api` and for the node API under it.
pub fn catchers() -> Vec<Catcher> {
    catchers![api_error]
}
