//! The `platform-api` binary: `serve` (default), `migrate`, `print-schema`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use platform_api::app::Application;
use platform_api::config::Config;
use platform_api::db::embedded::{Durability, EmbeddedPostgres};
use platform_api::db::migrate;
use platform_api::{graphql, telemetry};

/// The Dezky control plane API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to stdout; `schema.graphql` is this output.
    PrintSchema,
}

/// The database name used inside the embedded cluster.
const EMBEDDED_DATABASE: &str = "platform_api";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    if std::env::var("APP_ENV").as_deref() != Ok("production") {
        let _ = dotenvy::dotenv();
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate_only(config).await,
            Command::PrintSchema => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves the database URL, starting the embedded cluster when `DATABASE_URL` is unset.
async fn database(config: &Config) -> anyhow::Result<(String, Option<EmbeddedPostgres>)> {
    match &config.database.url {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let pg = EmbeddedPostgres::start(config.data_dir.join("postgres"), Durability::Durable)
                .await?;
            pg.ensure_database(EMBEDDED_DATABASE).await?;
            Ok((pg.url(EMBEDDED_DATABASE), Some(pg)))
        }
    }
}

async fn migrate_only(config: Config) -> anyhow::Result<()> {
    let (url, embedded) = database(&config).await?;
    let result = migrate::run_pending(&url).await;
    if let Some(pg) = embedded {
        pg.stop().await?;
    }
    let applied = result?;
    tracing::info!(count = applied.len(), "migrations up to date");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (url, embedded) = database(&config).await?;
    let result = run_server(config, &url).await;
    if let Some(pg) = embedded
        && let Err(e) = pg.stop().await
    {
        tracing::error!(error = %e, "could not stop the embedded PostgreSQL");
    }
    result
}

async fn run_server(config: Config, url: &str) -> anyhow::Result<()> {
    migrate::run_pending(url).await?;
    let app = Application::build(config, url).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, "listening; GraphiQL at http://{addr}/graphql");
    let shutdown = app.state().shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        shutdown.cancel();
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
