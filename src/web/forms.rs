//! Turning a lenient Rocket form into values plus per-field messages.
use crate::domain::FieldErrors;
use rocket::form::{Contextual, FromForm};

/// The parsed form, or a message for every field Rocket could not read (missing, too long for
/// the form limit, not valid UTF-8).
pub fn values<'r, T: FromForm<'r>>(form: Contextual<'r, T>) -> Result<T, FieldErrors> {
    match form.value {
        Some(value) => Ok(value),
        None => {
            let mut errors = FieldErrors::default();
            for error in form.context.errors() {
                let field = error.name.as_ref().map_or_else(|| "form".to_owned(), |n| n.to_string());
                errors.add(field, "This field is missing or is not valid text.");
            }
            if errors.is_empty() {
                errors.add("form", "The form could not be read.");
            }
            Err(errors)
        }
    }
}

/// A form with no fields of its own (a button); `CsrfForm` reads its token.
#[derive(FromForm)]
pub struct Confirm {
    _csrf: Option<String>,
}
