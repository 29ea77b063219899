//! The one binary's commands: serve (default), migrate, create-admin, seed-demo.
use crate::domain::audit::Change;
use crate::domain::nodes::{self, NodeError, NodeForm};
use crate::domain::pki;
use crate::domain::signup::{self, SignupError};
use crate::vault::Vault;
use crate::{app, db, store};
use clap::{Parser, Subcommand};
use rocket::figment::Figment;
use std::io::BufRead;

#[derive(Parser)]
#[command(name = "phaze-portal", version, about = "Phaze Portal: the VPN provider's customer and admin portal")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Create an administrator; the password is read from the first line of stdin.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
    },
    /// Create the demo admin (random password, printed once) unless an admin exists, and a
    /// demo node on 127.0.0.1 unless a node exists.
    SeedDemo,
    /// Add a VPN node.
    AddNode(AddNode),
    /// Write a node's files (wg0.conf, server.conf, ca.crt, server.crt, server.key,
    /// tls-crypt.key, crl.pem, ccd/) into a directory, and agent.env with its poll settings.
    NodeConfig {
        #[arg(long)]
        node: String,
        #[arg(long)]
        out: std::path::PathBuf,
        /// The portal's URL as the node reaches it, written to agent.env.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        portal_url: String,
        /// Rotate the node's token and write the new one to agent.env (the old one stops).
        #[arg(long)]
        new_token: bool,
    },
    /// Give a node a new API token (printed once); the old one stops working at once.
    RotateNodeToken {
        #[arg(long)]
        node: String,
    },
    /// Set a user's data limit per period: bytes, a size such as 50GB, or `unlimited`.
    SetDataLimit {
        #[arg(long)]
        user: String,
        #[arg(long)]
        limit: String,
    },
    /// Suspend a user: signed out everywhere, their clients leave the nodes' peer lists.
    SuspendUser {
        #[arg(long)]
        user: String,
    },
    /// Reinstate a suspended user.
    ReinstateUser {
        #[arg(long)]
        user: String,
    },
    /// Make a user an admin (`--role admin`) or a user again (`--role user`), on every instance
    /// at once.
    SetRole {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
    },
    /// Turn off a user's two-factor sign-in (they lost their device): recovery codes deleted,
    /// every session ended; they sign in with their password and may set it up again.
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        #[arg(long)]
        user: String,
    },
}

#[derive(clap::Args)]
pub struct AddNode {
    #[arg(long)]
    name: String,
    #[arg(long)]
    region: String,
    /// Public host name or IP address clients connect to.
    #[arg(long)]
    host: String,
    /// IPv4 network of the node's tunnel addresses, e.g. 10.66.0.0/24.
    #[arg(long)]
    pool: String,
    #[arg(long, default_value_t = 51820)]
    wireguard_port: u16,
    #[arg(long, default_value_t = 1194)]
    openvpn_port: u16,
    #[arg(long, default_value_t = 443)]
    phazevpn_port: u16,
    #[arg(long, value_delimiter = ',', default_value = "wireguard,openvpn,phazevpn")]
    protocols: Vec<String>,
    #[arg(long, default_value = "1.1.1.1, 1.0.0.1")]
    dns: String,
    /// The node's WireGuard public key; omitted, the portal makes the key pair.
    #[arg(long, default_value = "")]
    wg_public_key: String,
}

impl AddNode {
    fn into_form(self) -> NodeForm {
        NodeForm {
            name: self.name,
            region: self.region,
            host: self.host,
            wireguard_port: self.wireguard_port,
            openvpn_port: self.openvpn_port,
            phazevpn_port: self.phazevpn_port,
            protocols: self.protocols,
            address_pool: self.pool,
            dns: self.dns,
            wg_public_key: self.wg_public_key,
        }
    }
}

fn vault(figment: &Figment) -> Result<Vault, String> {
    let secret: Option<String> = figment.extract_inner("secret_key").ok();
    Vault::from_secret(secret.as_deref()).map_err(|e| e.to_string())
}

fn describe_node_error(e: NodeError) -> String {
    match e {
        NodeError::Invalid(errors) => errors.0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

async fn pool(figment: &Figment) -> Result<sqlx::PgPool, String> {
    let url: String =
        figment.extract_inner("databases.portal.url").map_err(|e| format!("databases.portal.url: {e}"))?;
    let pool = sqlx::PgPool::connect(&url).await.map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    db::migrate(&pool).await.map_err(|e| format!("migrations failed: {e}"))?;
    Ok(pool)
}

fn describe(e: SignupError) -> String {
    match e {
        SignupError::Invalid(errors) => {
            errors.0.iter().map(|(field, m)| format!("{field}: {m}")).collect::<Vec<_>>().join("; ")
        }
        SignupError::Db(e) => format!("database: {e}"),
    }
}

/// Files with keys are readable by their owner only.
fn write_private(path: &std::path::Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(content.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

fn redis(figment: &Figment) -> Result<redis::aio::ConnectionManager, String> {
    let url: String = figment.extract_inner("databases.redis.url").unwrap_or_default();
    Ok(crate::cache::RedisPool::connect_lazy(&url).map_err(|e| format!("Redis {url}: {e}"))?.connection())
}

/// The names and seals the running instances use for Redis.
fn keyring(figment: &Figment) -> Result<crate::cache::Keyring, String> {
    let secret: Option<String> = figment.extract_inner("secret_key").ok();
    let secret = Vault::secret_bytes(secret.as_deref()).map_err(|e| e.to_string())?;
    let namespace: String = figment.extract_inner("redis_namespace").unwrap_or_else(|_| "phaze".into());
    Ok(crate::cache::Keyring::new(&namespace, &secret))
}

/// The fragment cache the running instances share, to tell them what changed.
fn fragments(figment: &Figment) -> Result<crate::cache::FragmentCache, String> {
    Ok(crate::cache::FragmentCache::new(redis(figment)?, keyring(figment)?, crate::cache::NearCache::off()))
}

/// Running instances show the new node at once: its fragments' generation moves on.
async fn forget_cached_nodes(figment: &Figment) {
    match fragments(figment) {
        Ok(cache) => cache.invalidate(crate::web::NODES_OWNER).await,
        Err(e) => eprintln!("{e}; running instances show the node within 10 minutes"),
    }
}

async fn user_id(pool: &sqlx::PgPool, username: &str) -> Result<i64, String> {
    store::users::id_by_username(pool, username)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {username}"))
}

async fn node_named(pool: &sqlx::PgPool, name: &str) -> Result<store::nodes::Node, String> {
    store::nodes::find_by_name(pool, name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no node {name}"))
}

fn print_token(node: &str, token: &str) {
    println!(
        "Node {node}'s API token (shown only this once; the node sends it as `Authorization: Bearer TOKEN`):\n  {token}"
    );
}

async fn seed_demo_node(pool: &sqlx::PgPool, figment: &Figment) -> Result<(), String> {
    if store::nodes::exists(pool).await.map_err(|e| e.to_string())? {
        return Ok(());
    }
    let form = NodeForm {
        name: "demo-local".into(),
        region: "Local demo".into(),
        host: "127.0.0.1".into(),
        wireguard_port: 51820,
        openvpn_port: 1194,
        phazevpn_port: 443,
        protocols: vec!["wireguard".into(), "openvpn".into(), "phazevpn".into()],
        address_pool: "10.66.0.0/24".into(),
        dns: "1.1.1.1, 1.0.0.1".into(),
        wg_public_key: String::new(),
    };
    nodes::add(pool, &vault(figment)?, &form).await.map_err(describe_node_error)?;
    forget_cached_nodes(figment).await;
    println!("Demo node demo-local (127.0.0.1, 10.66.0.0/24) added.");
    Ok(())
}

/// Two paid plans for the demo, unless the operator has made paid plans already.
async fn seed_demo_plans(pool: &sqlx::PgPool, figment: &Figment) -> Result<(), String> {
    let plans = crate::store::billing::plans(pool, false).await.map_err(|e| e.to_string())?;
    if plans.iter().any(|p| !p.free) {
        return Ok(());
    }
    let cache = fragments(figment)?;
    for (name, price, days, devices) in [("Monthly", "4.99", "30", "5"), ("Yearly", "49.00", "365", "10")] {
        let form = crate::domain::billing::PlanForm {
            name: name.into(),
            price: price.into(),
            currency: "EUR".into(),
            period_days: days.into(),
            max_clients: devices.into(),
            data_limit_gb: String::new(),
            active: true,
            free: false,
        };
        crate::domain::billing::save_plan(pool, &cache, None, &form).await.map_err(|e| e.to_string())?;
    }
    println!("Demo plans Monthly (4.99 EUR) and Yearly (49.00 EUR) added; edit them at /admin/plans.");
    Ok(())
}

/// The shared session cache (a command that ends or changes sessions forgets their cached copies).
fn session_cache(figment: &Figment) -> Result<crate::cache::SessionCache, String> {
    Ok(crate::cache::SessionCache::new(redis(figment)?, keyring(figment)?, crate::cache::NearCache::off()))
}

/// Records an operator's change in the audit log (actor `cli`).
async fn audited(pool: &sqlx::PgPool, change: crate::domain::audit::Change<'_>) -> Result<(), String> {
    crate::domain::audit::record(pool, &crate::domain::audit::Actor::cli(), change).await.map_err(|e| e.to_string())
}

async fn set_user_status(figment: &Figment, user: &str, suspend: bool) -> Result<(), String> {
    let pool = pool(figment).await?;
    let id = user_id(&pool, user).await?;
    let cache = fragments(figment)?;
    let sessions = session_cache(figment)?;
    crate::domain::usage::set_user_status(&pool, &cache, &sessions, id, suspend).await.map_err(|e| e.to_string())?;
    audited(&pool, Change::new(if suspend { "user.suspend" } else { "user.reinstate" }, "user", id)).await?;
    println!("{user} is {}", if suspend { "suspended" } else { "active again" });
    Ok(())
}

pub async fn run(command: Command, figment: Figment) -> Result<(), String> {
    match command {
        Command::Serve => {
            app::rocket(figment).launch().await.map_err(|e| format!("the portal stopped: {e}"))?;
        }
        Command::Migrate => {
            pool(&figment).await?;
            println!("migrations are up to date");
        }
        Command::CreateAdmin { username, email } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).map_err(|e| format!("reading the password: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let pool = pool(&figment).await?;
            let id = signup::create_admin(&pool, &username, &email, password).await.map_err(describe)?;
            println!("admin {username} created (id {id})");
        }
        Command::SeedDemo => {
            let pool = pool(&figment).await?;
            if store::users::admin_exists(&pool).await.map_err(|e| e.to_string())? {
                println!("An admin account already exists; its password was printed when it was created.");
                seed_demo_plans(&pool, &figment).await?;
                return seed_demo_node(&pool, &figment).await;
            }
            let (password, _) = crate::auth::tokens::new_token();
            let password = &password[..20];
            signup::create_admin(&pool, "admin", "admin@example.com", password).await.map_err(describe)?;
            println!("Demo admin created. Log in with:\n  username: admin\n  password: {password}\n(shown only this once; change it on the account page)");
            seed_demo_plans(&pool, &figment).await?;
            seed_demo_node(&pool, &figment).await?;
        }
        Command::AddNode(args) => {
            let pool = pool(&figment).await?;
            let name = args.name.clone();
            let form = args.into_form();
            let added = nodes::add(&pool, &vault(&figment)?, &form).await.map_err(describe_node_error)?;
            forget_cached_nodes(&figment).await;
            let after = serde_json::json!({
                "name": form.name, "region": form.region, "host": form.host, "address_pool": form.address_pool,
                "protocols": form.protocols,
            });
            audited(&pool, Change::new("node.add", "node", added.id).after(after)).await?;
            println!("node added (id {})", added.id);
            print_token(&name, &added.token);
        }
        Command::NodeConfig { node, out, portal_url, new_token } => {
            let pool = pool(&figment).await?;
            let vault = vault(&figment)?;
            let node = node_named(&pool, &node).await?;
            let pki = pki::load_or_create(&pool, &vault).await.map_err(|e| e.to_string())?;
            let mut files = nodes::bundle(&pool, &vault, &pki, &node).await.map_err(describe_node_error)?;
            let token = if new_token {
                let token = nodes::rotate_token(&pool, &fragments(&figment)?, node.id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no such node")?;
                audited(&pool, Change::new("node.rotate_token", "node", node.id)).await?;
                token
            } else {
                "PASTE-THE-TOKEN-SHOWN-WHEN-THE-NODE-WAS-ADDED".to_owned()
            };
            let poll: u32 = figment.extract_inner("node_poll_secs").unwrap_or(30);
            files.push(("agent.env".into(), nodes::agent_settings(&portal_url, &token, poll)));
            std::fs::create_dir_all(out.join("ccd")).map_err(|e| format!("{}: {e}", out.display()))?;
            for (name, content) in files {
                write_private(&out.join(&name), &content)?;
            }
            println!("node files written to {}", out.display());
        }
        Command::RotateNodeToken { node } => {
            let pool = pool(&figment).await?;
            let found = node_named(&pool, &node).await?;
            let token = nodes::rotate_token(&pool, &fragments(&figment)?, found.id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no such node")?;
            audited(&pool, Change::new("node.rotate_token", "node", found.id)).await?;
            print_token(&node, &token);
        }
        Command::SetDataLimit { user, limit } => {
            let limit = crate::domain::usage::parse_limit(&limit)?;
            let pool = pool(&figment).await?;
            let id = user_id(&pool, &user).await?;
            crate::domain::usage::set_data_limit(&pool, &fragments(&figment)?, id, limit)
                .await
                .map_err(|e| e.to_string())?;
            audited(
                &pool,
                Change::new("user.set_data_limit", "user", id).after(serde_json::json!({ "limit_bytes": limit })),
            )
            .await?;
            match limit {
                Some(bytes) => println!("{user}'s data limit is now {bytes} bytes per period"),
                None => println!("{user} has no data limit now"),
            }
        }
        Command::SuspendUser { user } => set_user_status(&figment, &user, true).await?,
        Command::ReinstateUser { user } => set_user_status(&figment, &user, false).await?,
        Command::SetRole { user, role } => {
            let pool = pool(&figment).await?;
            let id = user_id(&pool, &user).await?;
            let sessions = session_cache(&figment)?;
            crate::domain::accounts::set_role(&pool, &sessions, &fragments(&figment)?, id, &role).await.map_err(
                |e| match e {
                    crate::domain::accounts::AccountError::Invalid(errors) => {
                        errors.0.into_values().collect::<Vec<_>>().join(" ")
                    }
                    other => other.to_string(),
                },
            )?;
            audited(&pool, Change::new("user.set_role", "user", id).after(serde_json::json!({ "role": role }))).await?;
            println!("{user} is now {role}");
        }
        Command::ResetTwoFactor { user } => {
            let pool = pool(&figment).await?;
            let id = user_id(&pool, &user).await?;
            let sessions = session_cache(&figment)?;
            let was_on = crate::domain::two_factor::reset(&pool, &sessions, id).await.map_err(|e| e.to_string())?;
            audited(
                &pool,
                Change::new("user.reset_2fa", "user", id).before(serde_json::json!({ "two_factor": was_on })),
            )
            .await?;
            if was_on {
                println!("{user}'s two-factor sign-in is off, and every session of theirs is ended");
            } else {
                println!("{user} had no two-factor sign-in; their sessions are ended");
            }
        }
    }
    Ok(())
}
