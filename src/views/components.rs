//! Reusable pieces of forms.
use crate::domain::FieldErrors;
use maud::{html, Markup};

pub fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(token); }
}

pub fn logout_button(csrf: &str) -> Markup {
    html! {
        form.inline method="post" action="/logout" {
            (csrf_input(csrf))
            button.link type="submit" { "Log out" }
        }
    }
}

/// A labelled input with its error message under it.
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
    pub autocomplete: &'a str,
    pub hint: Option<&'a str>,
    /// URL that checks this field as the user types (htmx), if any.
    pub check_url: Option<&'a str>,
}

impl<'a> Field<'a> {
    pub fn new(name: &'a str, label: &'a str, kind: &'a str) -> Self {
        Field { name, label, kind, value: "", autocomplete: "off", hint: None, check_url: None }
    }

    pub fn value(mut self, value: &'a str) -> Self {
        self.value = value;
        self
    }

    pub fn autocomplete(mut self, autocomplete: &'a str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn checked_at(mut self, url: &'a str) -> Self {
        self.check_url = Some(url);
        self
    }

    pub fn render(&self, errors: &FieldErrors) -> Markup {
        let error = errors.get(self.name);
        let error_id = format!("{}-error", self.name);
        // Passwords are never echoed back.
        let value = (self.kind != "password").then_some(self.value);
        html! {
            label for=(self.name) {
                (self.label)
                input id=(self.name) name=(self.name) type=(self.kind) value=[value]
                    autocomplete=(self.autocomplete) required
                    aria-invalid=[error.map(|_| "true")] aria-describedby=(error_id)
                    hx-get=[self.check_url] hx-trigger=[self.check_url.map(|_| "change, keyup changed delay:600ms")]
                    hx-target=[self.check_url.map(|_| format!("#{error_id}"))] hx-swap=[self.check_url.map(|_| "outerHTML")]
                    hx-sync=[self.check_url.map(|_| "this:replace")];
                (field_error(self.name, error))
                @if let Some(hint) = self.hint { small { (hint) } }
            }
        }
    }
}

/// The message slot under a field; also the fragment inline validation swaps in.
pub fn field_error(name: &str, error: Option<&str>) -> Markup {
    html! { small.field-error id={ (name) "-error" } aria-live="polite" { @if let Some(e) = error { (e) } } }
}

/// An error about the form as a whole (e.g. a failed login).
pub fn form_error(errors: &FieldErrors, key: &str) -> Markup {
    html! {
        @if let Some(e) = errors.get(key) { p.form-error role="alert" { (e) } }
    }
}
