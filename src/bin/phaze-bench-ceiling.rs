//! The benchmark's yardstick: a Rocket 0.5 binary with one route that returns a constant, built
//! with the portal's profile and measured beside it in the same run (DESIGN §5a).
use rocket::{get, launch, routes};

#[get("/")]
fn constant() -> &'static str {
    "ok"
}

#[launch]
fn rocket() -> _ {
    rocket::build().mount("/", routes![constant])
}
