//! The `firebreak` command: serve (default), migrate, user add.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use secrecy::ExposeSecret;

use firebreak::config::{Cli, Command, Settings, UserCommand};
use firebreak::db;
use firebreak::services::accounts::{self, NewUserInput};
use firebreak::services::{Actor, ServiceError};
use firebreak::startup::Application;
use firebreak::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_args(&cli.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("firebreak: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    // Without DATABASE_URL every command (serve, migrate, user add) uses Firebreak's own
    // PostgreSQL, started here when it is not running; dropped last, it stops the server
    // unless another Firebreak process still uses it.
    let _cluster = match &settings.embedded {
        None => None,
        Some(e) => match db::embedded::Cluster::start(&e.data_dir, e.pg_bin.as_deref()) {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                eprintln!("firebreak: {e:#}");
                return ExitCode::FAILURE;
            }
        },
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::Demo => demo(settings),
        Command::User { command: UserCommand::Add { email, name, role, time_zone } } => {
            add_user(settings, NewUserInput { email, display_name: name, role, password: String::new(), time_zone })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firebreak: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind;
        let base_url = settings.base_url.clone();
        let app = Application::build(settings).await?;
        tracing::info!(%bind, port = app.port(), %base_url, "Firebreak is listening");
        let ip = if bind.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { bind.ip() };
        let local = std::net::SocketAddr::new(ip, app.port());
        // Printed from a task that runs once the server is being polled, so its signal
        // handlers are in place: a SIGTERM right after this line is a clean stop.
        actix_web::rt::spawn(async move { println!("Firebreak is ready at http://{local}/") });
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url.expose_secret();
    db::ensure_database_exists(url)?;
    let applied = db::run_migrations(url)?;
    println!("Applied {applied} migration(s); the database is up to date.");
    Ok(())
}

fn add_user(settings: Settings, mut input: NewUserInput) -> anyhow::Result<()> {
    input.password = match std::env::var("FIREBREAK_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            let p = rpassword::prompt_password(format!("Password for {}: ", input.email))?;
            let again = rpassword::prompt_password("Same password again: ")?;
            anyhow::ensure!(p == again, "the two passwords differ");
            p
        }
        Err(_) => anyhow::bail!("set FIREBREAK_PASSWORD or run this in a terminal to be asked for the password"),
    };
    migrate_quietly(&settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let pool = db::build_pool(settings.database_url.expose_secret(), 2)?;
        match accounts::add_user(&pool, &Actor::command_line(), input).await {
            Ok(user) => {
                println!("Added {} <{}> as {}.", user.display_name, user.email, user.role);
                Ok(())
            }
            Err(ServiceError::Invalid(errors)) => {
                let lines: Vec<String> = ["email", "display_name", "role", "password", "time_zone"]
                    .iter()
                    .filter_map(|f| errors.get(f).map(|m| format!("{}: {m}", f.replace("display_name", "name"))))
                    .collect();
                anyhow::bail!("{}", lines.join("; "))
            }
            Err(e) => Err(e.into()),
        }
    })
}

fn demo(settings: Settings) -> anyhow::Result<()> {
    migrate_quietly(&settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let pool = db::build_pool(settings.database_url.expose_secret(), 2)?;
        let made = firebreak::services::demo::fill(&pool, &settings).await?;
        println!(
            "Added a demo: {} components, {} incidents (one resolved with its post-mortem, one active).",
            made.components, made.incidents
        );
        println!("Sign in as {} with the password {}", made.admin_email, made.admin_password);
        Ok(())
    })
}

fn migrate_quietly(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url.expose_secret();
    db::ensure_database_exists(url)?;
    db::run_migrations(url)?;
    Ok(())
}
