//! The only place that runs SQL.
pub mod clients;
pub mod connections;
pub mod nodes;
pub mod pki;
pub mod sessions;
pub mod usage;
pub mod users;

/// Name of the unique constraint a failed insert or update ran into, if any.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint().map(str::to_owned),
        _ => None,
    }
}
