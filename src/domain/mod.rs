//! The portal's rules: types, validation and transactions, per feature.
pub mod accounts;
pub mod admin_users;
pub mod api_tokens;
pub mod audit;
pub mod billing;
pub mod clients;
pub mod connections;
pub mod email;
pub mod figures;
pub mod idempotency;
pub mod node_events;
pub mod nodes;
pub mod partitions;
pub mod peers;
pub mod pki;
pub mod recovery;
pub mod renewals;
pub mod sessions;
pub mod signup;
pub mod tickets;
pub mod turns;
pub mod two_factor;
pub mod usage;
pub mod webhooks;

use std::collections::BTreeMap;

/// Messages for a form's fields, keyed by field name; shown next to each field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors
    }
}

impl From<validator::ValidationErrors> for FieldErrors {
    /// The first message of each field, as the declarative rules give them.
    fn from(e: validator::ValidationErrors) -> Self {
        let mut errors = FieldErrors::default();
        for (field, list) in e.field_errors() {
            let message = list
                .first()
                .and_then(|e| e.message.clone())
                .map_or_else(|| format!("{field} is not valid."), |m| m.into_owned());
            errors.add(field.to_string(), message);
        }
        errors
    }
}
