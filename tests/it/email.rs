//! Email: the outbox written with the change that causes it, sent by the worker over a real SMTP
//! server (aiosmtpd from Debian) with retries, address confirmation, and password reset.
use crate::helpers::*;
use rocket::http::Status;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// aiosmtpd on loopback, delivering into a Maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(port: u16) -> Self {
        let maildir = tempdir().join("maildir");
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd is installed (scripts/test.sh installs python3-aiosmtpd)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child, maildir }
    }

    /// Every message received so far, as raw text.
    fn received(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A quoted-printable body made plain enough to search (soft line breaks and `=3D` undone).
fn unfold(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if done().await {
            return;
        }
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[rocket::async_test]
async fn smtp_down_then_up_loses_nothing_and_the_mail_has_text_and_html() {
    let port = free_port();
    let app = TestApp::spawn_with(move |f| {
        f.merge(("smtp_url", format!("smtp://127.0.0.1:{port}")))
            .merge(("email_poll_ms", 100))
            .merge(("email_retry_base_secs", 1))
    })
    .await;
    app.sign_up_unconfirmed("mailed").await;
    // Nobody listens yet: the worker tries, fails, and keeps the email for later.
    wait_until("a failed attempt", || async {
        let (attempts, error): (i32, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM email_outbox").fetch_one(&app.pool).await.unwrap();
        attempts >= 1 && error.is_some()
    })
    .await;
    let sent: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT sent_at FROM email_outbox").fetch_one(&app.pool).await.unwrap();
    assert!(sent.is_none());

    let smtp = SmtpServer::start(port);
    wait_until("the email to arrive", || async { !smtp.received().is_empty() }).await;
    wait_until("the outbox to mark it sent", || async {
        sqlx::query_scalar::<_, bool>("SELECT sent_at IS NOT NULL FROM email_outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    })
    .await;
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "sent once");
    let mail = unfold(&mails[0]);
    assert!(mail.contains("Subject: Confirm your email address"), "{mail}");
    assert!(mail.contains("To: mailed@example.com"));
    assert!(mail.contains("multipart/alternative") && mail.contains("text/plain") && mail.contains("text/html"));
    // The link in the mail that arrived confirms the address.
    let (_, text) = latest_email(&app.pool, "mailed@example.com", "verify_address").await.unwrap();
    let link = link_in(&text);
    assert!(mail.contains(&link), "the mail carries the link");
    let r = app.get(&path_of(&link)).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let verified: bool =
        sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM users WHERE username = 'mailed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(verified);
}

#[rocket::async_test]
async fn without_smtp_emails_are_written_as_eml_files() {
    let dir = tempdir().join("eml");
    let app = {
        let dir = dir.clone();
        TestApp::spawn_with(move |f| f.merge(("mail_dir", dir)).merge(("email_poll_ms", 100))).await
    };
    app.sign_up_unconfirmed("filed").await;
    let found = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
            .unwrap_or_default()
    };
    wait_until("an .eml file", || async { !found(&dir).is_empty() }).await;
    assert!(found(&dir)[0].contains("Subject: Confirm your email address"));
}

#[rocket::async_test]
async fn creations_refused_before_confirming_do_not_count_against_the_hourly_limit() {
    let app = TestApp::spawn_with(|f| f.merge(("client_changes_per_hour", 2))).await;
    app.add_node("patient-node", "vpn.patient.example", "10.94.0.0/24").await;
    app.sign_up_unconfirmed("impatient").await;
    for n in 0..4 {
        let name = format!("early-{n}");
        let r = app.submit("/dashboard", "/clients", &[("name", &name), ("protocol", "openvpn"), ("node", "")]).await;
        assert_eq!(r.status(), Status::Forbidden, "attempt {n}");
        assert!(r.into_string().await.unwrap().contains("Confirm your email address first"));
    }
    let clients: i64 = sqlx::query_scalar("SELECT count(*) FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(clients, 0, "nothing half-made");
    let (_, text) = latest_email(&app.pool, "impatient@example.com", "verify_address").await.unwrap();
    assert_eq!(app.get(&path_of(&link_in(&text))).await.status(), Status::SeeOther);
    // Both changes of the hour are still there, and only two.
    app.create_client("first", "wireguard").await;
    app.create_client("second", "openvpn").await;
    let r = app.submit("/dashboard", "/clients", &[("name", "third"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn unconfirmed_users_sign_in_but_cannot_create_clients_until_they_follow_the_link() {
    let app = TestApp::spawn().await;
    app.add_node("mail-node", "vpn.mail.example", "10.92.0.0/24").await;
    app.sign_up_unconfirmed("unconfirmed").await;
    let (status, dashboard) = app.page("/dashboard").await;
    assert_eq!(status, Status::Ok, "signed in");
    assert!(dashboard.contains("not confirmed yet"));
    let r = app.submit("/dashboard", "/clients", &[("name", "laptop"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::Forbidden);
    assert!(r.into_string().await.unwrap().contains("Confirm your email address first"));

    let (_, text) = latest_email(&app.pool, "unconfirmed@example.com", "verify_address").await.unwrap();
    let link = path_of(&link_in(&text));
    let r = app.get(&link).await;
    assert_eq!((r.status(), location(&r)), (Status::SeeOther, "/dashboard".into()));
    drop(r);
    app.create_client("laptop", "wireguard").await;
    assert_eq!(app.get(&link).await.status(), Status::BadRequest, "a link works once");

    // A new address is unconfirmed again, and the old address's link does not confirm it.
    let r =
        app.submit("/account", "/account/email", &[("email", "new@example.com"), ("current_password", PASSWORD)]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let r = app.submit("/dashboard", "/clients", &[("name", "phone"), ("protocol", "wireguard"), ("node", "")]).await;
    assert_eq!(r.status(), Status::Forbidden);
    drop(r);
    let (_, text) =
        latest_email(&app.pool, "new@example.com", "verify_address").await.expect("sent to the new address");
    assert_eq!(app.get(&path_of(&link_in(&text))).await.status(), Status::SeeOther);
    app.create_client("phone", "wireguard").await;
    // Asking again once confirmed sends nothing more.
    let r = app.submit("/account", "/account/verify-email", &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'verify_address'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    for bad in ["/verify-email", "/verify-email?token=short", "/verify-email?token=%00%00"] {
        assert_eq!(app.get(bad).await.status(), Status::BadRequest, "{bad}");
    }
}

#[rocket::async_test]
async fn a_password_reset_link_works_once_for_an_hour_and_ends_every_session() {
    let app = TestApp::spawn().await;
    app.sign_up("forgetful").await;
    // The same answer whether or not an account has the address, and no email for a stranger.
    let stranger = app.submit("/forgot-password", "/forgot-password", &[("email", "nobody@example.com")]).await;
    assert_eq!(stranger.status(), Status::Ok);
    let stranger = stranger.into_string().await.unwrap();
    app.log_out().await;
    let known = app.submit("/forgot-password", "/forgot-password", &[("email", "Forgetful@Example.com")]).await;
    assert_eq!(known.status(), Status::Ok);
    let known = known.into_string().await.unwrap();
    let answer = |page: &str| page.split("id=\"reset-sent\"").nth(1).map(|s| s.split('<').next().unwrap().to_owned());
    assert_eq!(answer(&stranger), answer(&known));
    assert!(answer(&known).unwrap().contains("If an account uses this address"));
    assert!(latest_email(&app.pool, "nobody@example.com", "password_reset").await.is_none());
    let (_, text) = latest_email(&app.pool, "forgetful@example.com", "password_reset").await.expect("a reset email");
    let link = path_of(&link_in(&text));
    let token = link.split("token=").nth(1).unwrap().to_owned();

    app.log_in("forgetful", PASSWORD).await;
    assert_eq!(app.session_count("forgetful").await, 1);
    let (status, form) = app.page(&link).await;
    assert_eq!(status, Status::Ok);
    assert!(form.contains(&token));
    let new_password = "a-brand-new-passphrase";
    let r = app
        .submit(&link, "/reset-password", &[("token", &token), ("password", "short"), ("password_confirm", "short")])
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity, "a weak password is refused and the link stays good");
    drop(r);
    let r = app
        .submit(
            &link,
            "/reset-password",
            &[("token", &token), ("password", new_password), ("password_confirm", new_password)],
        )
        .await;
    assert_eq!((r.status(), location(&r)), (Status::SeeOther, "/login".into()));
    drop(r);
    assert_eq!(app.session_count("forgetful").await, 0, "every session ended");
    assert_eq!(app.get("/dashboard").await.status(), Status::SeeOther);
    let r = app.log_in("forgetful", new_password).await;
    assert_eq!(location(&r), "/dashboard");
    drop(r);
    app.log_out().await;
    let r = app
        .submit(
            &link,
            "/reset-password",
            &[("token", &token), ("password", new_password), ("password_confirm", new_password)],
        )
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity, "used once");
    assert!(r.into_string().await.unwrap().contains("used, expired or wrong"));

    // An hour later a fresh link is dead too.
    app.submit("/forgot-password", "/forgot-password", &[("email", "forgetful@example.com")]).await;
    let (_, text) = latest_email(&app.pool, "forgetful@example.com", "password_reset").await.unwrap();
    let late = path_of(&link_in(&text));
    let late_token = late.split("token=").nth(1).unwrap().to_owned();
    sqlx::query(
        "UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'reset' AND used_at IS NULL",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let r = app
        .submit(
            &late,
            "/reset-password",
            &[
                ("token", &late_token),
                ("password", "yet-another-passphrase"),
                ("password_confirm", "yet-another-passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status(), Status::UnprocessableEntity);
    drop(r);
    // Asking over and over for one address is limited (3 an hour).
    let mut last = Status::Ok;
    for _ in 0..3 {
        last = app.submit("/forgot-password", "/forgot-password", &[("email", "forgetful@example.com")]).await.status();
    }
    assert_eq!(last, Status::TooManyRequests);
}
