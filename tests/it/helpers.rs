use phaze_portal::{app, config, db};
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use sqlx::PgPool;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "violet-tractor-harbour";

pub fn admin_database_url() -> String {
    std::env::var("PORTAL_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://phaze:phaze@127.0.0.1:5432/phaze?sslmode=disable".into())
}

/// A new, empty database, migrated by the portal itself when it ignites.
pub async fn fresh_database() -> String {
    let admin_url = admin_database_url();
    let admin = PgPool::connect(&admin_url).await.expect("PostgreSQL is running (scripts/test.sh starts it)");
    let name = format!("phaze_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
    admin.close().await;
    let (url, query) = admin_url.split_once('?').map_or((admin_url.as_str(), ""), |(u, q)| (u, q));
    let (base, _) = url.rsplit_once('/').unwrap();
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A redis-server of the test's own, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        let server = RedisServer { child: Some(child), port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many times each command has run on this server (`INFO commandstats`), by lowercase name.
    pub async fn command_calls(&self) -> std::collections::HashMap<String, u64> {
        let text = match self.command(&["INFO", "commandstats"]).await {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            redis::Value::VerbatimString { text, .. } => text,
            other => panic!("{other:?}"),
        };
        text.lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(":calls=")?;
                Some((name.to_owned(), rest.split(',').next()?.parse().ok()?))
            })
            .collect()
    }

    /// Commands run on this server other than the INFO calls that count them.
    pub async fn commands_run(&self) -> u64 {
        self.command_calls().await.iter().filter(|(name, _)| *name != "info").map(|(_, n)| n).sum()
    }

    pub async fn command(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn).await.unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct TestApp {
    pub client: Client,
    pub database_url: String,
    pub pool: PgPool,
    pub redis: RedisServer,
    /// The client address every request of this app comes from (rate limits are per IP).
    pub ip: SocketAddr,
    /// Admins' second factors: username → (TOTP secret, unused recovery codes).
    pub factors: std::sync::Mutex<std::collections::HashMap<String, SecondFactor>>,
}

/// An admin's TOTP secret and unused recovery codes.
pub type SecondFactor = (Vec<u8>, Vec<String>);

pub fn random_loopback() -> SocketAddr {
    let mut b = [0u8; 3];
    getrandom::fill(&mut b).unwrap();
    SocketAddr::from(([127, b[0], b[1], b[2].max(2)], 40000))
}

pub fn figment(database_url: &str, redis_url: &str) -> rocket::figment::Figment {
    config::figment()
        .merge(("databases.portal.url", database_url))
        .merge(("databases.portal.max_connections", 4))
        .merge(("databases.redis.url", redis_url))
        .merge(("log_level", "off"))
        .merge(("mail_dir", tempdir().join("mail")))
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    pub async fn spawn_with(configure: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment) -> Self {
        Self::on_database(fresh_database().await, configure).await
    }

    /// An in-process portal on an existing database (e.g. an admin beside a browser's server).
    pub async fn on_database(
        database_url: String,
        configure: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
    ) -> Self {
        let redis = RedisServer::start();
        let client = Client::tracked(app::rocket(configure(figment(&database_url, &redis.url()))))
            .await
            .expect("the portal ignites");
        let pool = PgPool::connect(&database_url).await.unwrap();
        TestApp { client, database_url, pool, redis, ip: random_loopback(), factors: Default::default() }
    }

    /// Another instance of the portal on the same PostgreSQL and Redis (as behind a load balancer).
    pub async fn another_instance(&self) -> Client {
        Client::tracked(app::rocket(figment(&self.database_url, &self.redis.url()))).await.unwrap()
    }

    pub async fn get(&self, path: &str) -> LocalResponse<'_> {
        self.client.get(path.to_owned()).remote(self.ip).dispatch().await
    }

    /// GET a page; its status and body.
    pub async fn page(&self, path: &str) -> (Status, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.into_string().await.unwrap_or_default())
    }

    /// The CSRF token the page at `path` carries in its forms.
    pub async fn csrf(&self, path: &str) -> String {
        let (_, body) = self.page(path).await;
        csrf_in(&body).unwrap_or_else(|| panic!("no CSRF token on {path}"))
    }

    /// POSTs a form with the CSRF token of the page at `form_page`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let token = self.csrf(form_page).await;
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, form_encode(&all)).await
    }

    pub async fn post_raw(&self, action: &str, body: impl AsRef<[u8]>) -> LocalResponse<'_> {
        self.client.post(action.to_owned()).remote(self.ip).header(ContentType::Form).body(body).dispatch().await
    }

    /// Signs up, and confirms the address as the link in the email would (`sign_up_unconfirmed`
    /// leaves it, for the tests of that link).
    pub async fn sign_up(&self, username: &str) -> LocalResponse<'_> {
        let response = self.sign_up_unconfirmed(username).await;
        sqlx::query("UPDATE users SET email_verified_at = now() WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await
            .unwrap();
        response
    }

    pub async fn sign_up_unconfirmed(&self, username: &str) -> LocalResponse<'_> {
        let email = format!("{username}@example.com");
        self.submit(
            "/signup",
            "/signup",
            &[("username", username), ("email", &email), ("password", PASSWORD), ("password_confirm", PASSWORD)],
        )
        .await
    }

    /// Logs in, giving the second factor when the portal asks for it (an admin made by
    /// `create_admin`).
    pub async fn log_in(&self, login: &str, password: &str) -> LocalResponse<'_> {
        let r = self.submit("/login", "/login", &[("login", login), ("password", password)]).await;
        if !location(&r).starts_with("/login/two-factor") {
            return r;
        }
        drop(r);
        let code = self.second_factor(login).await;
        self.submit("/login/two-factor", "/login/two-factor", &[("code", &code)]).await
    }

    /// A code the portal will take for this admin now: the current step's, the next one's if that
    /// was used (one step of skew is allowed), else a recovery code.
    pub async fn second_factor(&self, username: &str) -> String {
        let last: i64 = sqlx::query_scalar("SELECT totp_last_step FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        let mut factors = self.factors.lock().unwrap();
        let (secret, codes) = factors.get_mut(username).expect("an admin made by create_admin");
        let totp = phaze_portal::domain::two_factor::totp(secret, username);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for step in [now / 30, now / 30 + 1] {
            if last < step {
                return totp.generate(step as u64 * 30).to_string();
            }
        }
        codes.pop().expect("a recovery code left")
    }

    pub async fn log_out(&self) -> LocalResponse<'_> {
        self.submit("/dashboard", "/logout", &[]).await
    }

    /// An admin with two-factor sign-in set up (admins must have it); `log_in` answers its step.
    pub async fn create_admin(&self, username: &str) {
        db::migrate(&self.pool).await.unwrap();
        let id = phaze_portal::domain::signup::create_admin(
            &self.pool,
            username,
            &format!("{username}@example.com"),
            PASSWORD,
        )
        .await
        .unwrap();
        let portal = self.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
        let two_factor =
            &phaze_portal::domain::two_factor::begin_setup(&self.pool, &portal.vault, id, true).await.unwrap();
        let secret = totp_rs::Secret::try_from_base32(&two_factor.secret_base32).unwrap().as_bytes().to_vec();
        let code = phaze_portal::domain::two_factor::totp(&secret, username)
            .generate(time::OffsetDateTime::now_utc().unix_timestamp() as u64)
            .to_string();
        let codes = phaze_portal::domain::two_factor::confirm_setup(
            &self.pool,
            &portal.vault,
            &portal.sessions,
            id,
            None,
            &code,
        )
        .await
        .unwrap();
        self.factors.lock().unwrap().insert(username.to_owned(), (secret, codes));
    }

    /// Devices the free plan (what every user without a subscription has) allows.
    pub async fn set_free_plan_clients(&self, max: i32) {
        sqlx::query("UPDATE plans SET max_clients = $1 WHERE free").bind(max).execute(&self.pool).await.unwrap();
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.client.cookies().get(phaze_portal::auth::SESSION_COOKIE).map(|c| c.value().to_owned())
    }

    pub async fn session_count(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find(r#"name="_csrf" value=""#)? + r#"name="_csrf" value=""#.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k.as_bytes()), percent(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn percent(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn header<'a>(response: &'a LocalResponse<'_>, name: &str) -> Option<&'a str> {
    response.headers().get_one(name)
}

pub fn location(response: &LocalResponse<'_>) -> String {
    header(response, "Location").unwrap_or_default().to_owned()
}

pub fn accept_json() -> Header<'static> {
    Header::new("Accept", "application/json")
}

/// The real `phaze-portal serve` binary on a free port, with its stdout kept in a file.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    pub database_url: String,
    pub log_path: std::path::PathBuf,
    _redis: RedisServer,
}

impl ServerProcess {
    pub async fn start() -> Self {
        Self::start_with(&fresh_database().await, &[]).await
    }

    pub async fn start_with(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), database_url, env).await
    }

    /// On a given port (to restart a stopped server where its clients expect it).
    pub async fn start_on(port: u16, database_url: &str, env: &[(&str, &str)]) -> Self {
        let redis = RedisServer::start();
        let log_path = std::env::temp_dir().join(format!("phaze-portal-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phaze-portal"))
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis.url())
            .env("PORTAL_MAIL_DIR", tempdir().join("mail"))
            .env("PORTAL_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(log)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let server = ServerProcess { child, port, database_url: database_url.to_owned(), log_path, _redis: redis };
        for _ in 0..200 {
            if http(port, "GET", "/healthz", &[], "").0 == 200 {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("phaze-portal did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server as an operator would (SIGTERM, a clean shutdown) and returns what it
    /// logged; SIGKILL only if it has not exited within 10 s.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return std::fs::read_to_string(&self.log_path).unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("phaze-portal did not stop within 10 s of SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A bare HTTP/1.1 exchange over loopback: (status, headers, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, vec![], String::new());
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
    (status, headers, body.to_owned())
}

/// A TCP hop between the portal and PostgreSQL that a test can cut and restore.
pub struct PgProxy {
    pub port: u16,
    tasks: Vec<rocket::tokio::task::JoinHandle<()>>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<rocket::tokio::task::AbortHandle>>>,
}

impl PgProxy {
    pub async fn start(port: u16) -> Self {
        let options: sqlx::postgres::PgConnectOptions = admin_database_url().parse().unwrap();
        let target = format!("{}:{}", options.get_host(), options.get_port());
        let listener = rocket::tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conns = connections.clone();
        let accept = rocket::tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = rocket::tokio::spawn(async move {
                    if let Ok(mut outbound) = rocket::tokio::net::TcpStream::connect(target).await {
                        let _ = rocket::tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(task.abort_handle());
            }
        });
        PgProxy { port, tasks: vec![accept], connections }
    }

    pub fn cut(&mut self) {
        self.tasks.drain(..).for_each(|t| t.abort());
        self.connections.lock().unwrap().drain(..).for_each(|c| c.abort());
    }
}

/// `database_url` rewritten to go through the proxy.
pub fn through(proxy: &PgProxy, database_url: &str) -> String {
    let options: sqlx::postgres::PgConnectOptions = database_url.parse().unwrap();
    database_url.replacen(&format!(":{}/", options.get_port()), &format!(":{}/", proxy.port), 1)
}

impl TestApp {
    /// Adds a node the way an admin does, with the portal's own vault; its id.
    pub async fn add_node(&self, name: &str, host: &str, pool: &str) -> i64 {
        self.add_node_with_token(name, host, pool).await.0
    }

    /// Adds a node; its id and its API token.
    pub async fn add_node_with_token(&self, name: &str, host: &str, pool: &str) -> (i64, String) {
        let portal = self.client.rocket().state::<phaze_portal::state::Portal>().unwrap();
        let form = phaze_portal::domain::nodes::NodeForm {
            name: name.into(),
            region: "Test".into(),
            host: host.into(),
            wireguard_port: 51820,
            openvpn_port: 1194,
            phazevpn_port: 443,
            protocols: vec!["wireguard".into(), "openvpn".into(), "phazevpn".into()],
            address_pool: pool.into(),
            dns: "9.9.9.9".into(),
            wg_public_key: String::new(),
        };
        let added = phaze_portal::domain::nodes::add(&self.pool, &portal.vault, &form).await.unwrap();
        (added.id, added.token)
    }

    /// Creates a client through the dashboard form (no JavaScript); its id.
    pub async fn create_client(&self, name: &str, protocol: &str) -> uuid::Uuid {
        let r = self.submit("/dashboard", "/clients", &[("name", name), ("protocol", protocol), ("node", "")]).await;
        assert_eq!(r.status(), Status::SeeOther, "creating {name}");
        drop(r);
        sqlx::query_scalar("SELECT id FROM clients WHERE name = $1 AND status = 'active'")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn download(&self, id: uuid::Uuid) -> (Status, Option<String>, Option<String>, String) {
        let r = self.get(&format!("/clients/{id}/config")).await;
        let status = r.status();
        let disposition = header(&r, "Content-Disposition").map(str::to_owned);
        let content_type = header(&r, "Content-Type").map(str::to_owned);
        (status, disposition, content_type, r.into_string().await.unwrap_or_default())
    }
}

/// The text between `<tag>` and `</tag>` of an .ovpn file.
pub fn inline_block(ovpn: &str, tag: &str) -> String {
    let start = ovpn.find(&format!("<{tag}>\n")).unwrap() + tag.len() + 3;
    let end = ovpn.find(&format!("</{tag}>")).unwrap();
    ovpn[start..end].to_owned()
}

/// Runs the portal's CLI against `database_url`; (success, stdout, stderr).
pub fn portal_cli(database_url: &str, args: &[&str]) -> (bool, String, String) {
    portal_cli_with(database_url, None, args)
}

/// The CLI against a given Redis too (commands that forget cached sessions).
pub fn portal_cli_with(database_url: &str, redis_url: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_phaze-portal"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env("DATABASE_URL", database_url);
    if let Some(url) = redis_url {
        command.env("REDIS_URL", url);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A new empty directory under the system's temp dir.
pub fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("phaze-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The newest email of `kind` queued for `to`: (subject, text part).
pub async fn latest_email(pool: &PgPool, to: &str, kind: &str) -> Option<(String, String)> {
    sqlx::query_as(
        "SELECT subject, text_body FROM email_outbox WHERE to_address = $1 AND kind = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .bind(kind)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// The first link in an email's text.
pub fn link_in(text: &str) -> String {
    let start = text.find("http").expect("a link in the email");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// A link's path and query, to follow it on the in-process client.
pub fn path_of(link: &str) -> String {
    let after_scheme = link.split_once("://").map_or(link, |(_, rest)| rest);
    after_scheme.find('/').map_or("/".into(), |i| after_scheme[i..].to_owned())
}

/// Logs in with the password alone on another client (another browser, another instance).
pub async fn log_in_on(client: &Client, login: &str, password: &str) {
    let page = client.get("/login").dispatch().await.into_string().await.unwrap();
    let body = form_encode(&[("_csrf", &csrf_in(&page).unwrap()), ("login", login), ("password", password)]);
    let r = client.post("/login").header(ContentType::Form).body(body).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther);
}
