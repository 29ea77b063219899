//! Sending email: SMTP through lettre, or .eml files in a folder when no SMTP server is set
//! (development). Only the email worker sends.
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::Path;

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// The parts of one email.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address: {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("not sent: {0}")]
    Send(String),
}

impl MailError {
    /// An error that a retry cannot fix (the message itself is wrong).
    pub fn permanent(&self) -> bool {
        matches!(self, MailError::Address(_) | MailError::Build(_))
    }
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, mail_dir: &Path) -> Result<Self, String> {
        match smtp_url.filter(|u| !u.is_empty()) {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Mailer::Smtp(b.timeout(Some(std::time::Duration::from_secs(20))).build()))
                .map_err(|e| format!("invalid SMTP URL: {e}")),
            None => {
                std::fs::create_dir_all(mail_dir).map_err(|e| format!("cannot create {}: {e}", mail_dir.display()))?;
                Ok(Mailer::Files(AsyncFileTransport::<Tokio1Executor>::new(mail_dir)))
            }
        }
    }

    pub async fn send(&self, from: &str, mail: &Outgoing<'_>) -> Result<(), MailError> {
        let from: Mailbox = from.parse().map_err(|e| MailError::Address(format!("from: {e}")))?;
        let to: Mailbox = mail.to.parse().map_err(|e| MailError::Address(format!("to: {e}")))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.to_owned()))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(mail.html.to_owned())),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Mailer::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| MailError::Send(e.to_string())),
            Mailer::Files(files) => files.send(message).await.map(drop).map_err(|e| MailError::Send(e.to_string())),
        }
    }
}
