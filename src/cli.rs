//! The one binary's commands: serve (default), migrate, create-admin, seed-demo.
use crate::domain::signup::{self, SignupError};
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
    /// Create the demo admin with a random password, printed once, unless an admin exists.
    SeedDemo,
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
                return Ok(());
            }
            let (password, _) = crate::auth::tokens::new_token();
            let password = &password[..20];
            signup::create_admin(&pool, "admin", "admin@example.com", password).await.map_err(describe)?;
            println!("Demo admin created. Log in with:\n  username: admin\n  password: {password}\n(shown only this once; change it on the account page)");
        }
    }
    Ok(())
}
