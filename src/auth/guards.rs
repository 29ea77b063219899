//! Request guards: who is asking (session cookie), and whether they may.
use super::SESSION_COOKIE;
use crate::cache::NearCheck;
use crate::db::Db;
use crate::domain::sessions::ActiveSession;
use crate::state::Portal;
use rocket::http::Status;
use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};

/// A signed-in user and the token of the session they came with.
#[derive(Clone)]
pub struct CurrentUser {
    pub session: ActiveSession,
    pub token: String,
}

impl CurrentUser {
    pub fn user_id(&self) -> i64 {
        self.session.user_id
    }
}

/// The session behind this request's cookie, resolved once per request.
/// `Err` means the database could not be asked.
pub(crate) struct ResolvedSession(pub Result<Option<CurrentUser>, ()>);

pub(crate) async fn resolve_session<'r>(req: &'r Request<'_>) -> &'r ResolvedSession {
    req.local_cache_async(async {
        let Some(token) = req.cookies().get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return ResolvedSession(Ok(None));
        };
        let (Some(db), Some(portal)) = (req.rocket().state::<Db>(), req.rocket().state::<Portal>()) else {
            return ResolvedSession(Err(()));
        };
        match portal.sessions(db).resolve(&token, near_check(req)).await {
            Ok(found) => ResolvedSession(Ok(found.map(|session| CurrentUser { session, token }))),
            Err(e) => {
                log::error!(event = "session_lookup_failed"; "session lookup failed: {e}");
                ResolvedSession(Err(()))
            }
        }
    })
    .await
}

/// This request's one look at the near cache (`cache::NearCheck`).
pub fn near_check<'r>(req: &'r Request<'_>) -> &'r NearCheck {
    req.local_cache(NearCheck::default)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for &'r NearCheck {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(near_check(req))
    }
}

/// The session already resolved for this request, without resolving it (for error pages).
pub(crate) fn resolved_session<'r>(req: &'r Request<'_>) -> Option<&'r CurrentUser> {
    req.local_cache(|| ResolvedSession(Ok(None))).0.as_ref().ok().and_then(Option::as_ref)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match &resolve_session(req).await.0 {
            Ok(Some(user)) => Outcome::Success(user.clone()),
            Ok(None) => Outcome::Error((Status::Unauthorized, ())),
            Err(()) => Outcome::Error((Status::ServiceUnavailable, ())),
        }
    }
}

/// A signed-in administrator whose session used two factors; anyone else signed in gets 403,
/// and an admin without them is sent to set up two-factor sign-in (see `NeedsTwoFactor`).
pub struct Admin(pub CurrentUser);

/// Set on a request refused only because the admin has not signed in with two factors: the 403
/// catcher sends them to the setup page instead of an error.
pub struct NeedsTwoFactor(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let user = try_outcome!(req.guard::<CurrentUser>().await);
        if user.session.admin_ready() {
            Outcome::Success(Admin(user))
        } else {
            if user.session.is_admin() {
                req.local_cache(|| NeedsTwoFactor(true));
            }
            Outcome::Error((Status::Forbidden, ()))
        }
    }
}

/// An admin making a change, and what the audit log records about them.
pub struct AdminActor {
    pub admin: CurrentUser,
    pub actor: crate::domain::audit::Actor,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminActor {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let Admin(admin) = try_outcome!(req.guard::<Admin>().await);
        let request_id = match req.guard::<crate::telemetry::requests::RequestId>().await {
            Outcome::Success(id) => Some(id.0),
            _ => None,
        };
        let actor = crate::domain::audit::Actor {
            user_id: Some(admin.user_id()),
            name: admin.session.username.clone(),
            ip: req.client_ip().map(|ip| ip.to_string()),
            request_id,
        };
        Outcome::Success(AdminActor { admin, actor })
    }
}

/// Where a request comes from: the client IP (as Rocket sees it, `ip_header` aware) and agent.
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        Outcome::Success(ClientInfo {
            ip: req.client_ip().map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            user_agent: req.headers().get_one("User-Agent").map(str::to_owned),
        })
    }
}
