//! The `platform-api` binary: `serve` (default), `migrate`, `print-schema`.

// The merged GraphQL roots (one part per area) nest deeply enough that computing the layout
// of their resolver futures overflows rustc's default query depth (128) in release builds.
#![recursion_limit = "256"]

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
    /// Print the GraphQL schema (SDL) to stdout; `schema.graphql` is this output. With
    /// `--audience`, print what introspection shows that audience instead
    /// (`codegen/schema.portal.graphql`, `codegen/schema.operator.graphql`).
    PrintSchema(PrintSchemaArgs),
    /// Print a token signed by the development issuer (development only, and only while
    /// `AUTH_ISSUERS` is unset). Send it as `Authorization: Bearer <token>`.
    DevToken(DevTokenArgs),
}

#[derive(clap::Args)]
struct PrintSchemaArgs {
    /// Print one audience's view: `portal` (no operator-only field, mutation or type) or
    /// `operator` (everything).
    #[arg(long, value_parser = ["portal", "operator"])]
    audience: Option<String>,
}

#[derive(clap::Args)]
struct DevTokenArgs {
    /// Subject (the user's stable id at the identity provider).
    #[arg(long)]
    sub: String,
    /// Audience: the portal's or the operator console's client id.
    #[arg(long, default_value = "dezky-portal")]
    aud: String,
    /// Email claim.
    #[arg(long)]
    email: Option<String>,
    /// Name claim.
    #[arg(long)]
    name: Option<String>,
    /// Groups claim, comma-separated (e.g. `dezky-platform-admins,acme`).
    #[arg(long, value_delimiter = ',')]
    groups: Option<Vec<String>>,
    /// Lifetime, e.g. `90s`, `15m`, `1h`, `2d`.
    #[arg(long, default_value = "1h")]
    ttl: String,
}

/// The database name used inside the embedded cluster.
const EMBEDDED_DATABASE: &str = "platform_api";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema(args)) = &cli.command {
        return print_schema(args);
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
    if let Some(Command::DevToken(args)) = &cli.command {
        return match dev_token(&config, args) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .event_interval(config.runtime_event_interval)
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
            Command::PrintSchema(_) | Command::DevToken(_) => unreachable!("handled above"),
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

/// Prints the whole SDL, or one audience's view of it.
fn print_schema(args: &PrintSchemaArgs) -> ExitCode {
    let view = match args.audience.as_deref() {
        None => {
            print!("{}", graphql::sdl());
            return ExitCode::SUCCESS;
        }
        Some("operator") => graphql::audience::SchemaView::Operator,
        Some(_) => graphql::audience::SchemaView::Portal,
    };
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => {
            print!("{}", runtime.block_on(graphql::sdl::sdl_for(view)));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Signs a development token for the issuer a server with this configuration trusts.
fn dev_token(config: &Config, args: &DevTokenArgs) -> anyhow::Result<String> {
    use platform_api::auth::dev_issuer::{self, DevIssuer, DevTokenRequest};
    anyhow::ensure!(
        config.auth.uses_dev_issuer(),
        "AUTH_ISSUERS is set, so the server would not accept a development token"
    );
    anyhow::ensure!(
        config.auth.audiences.contains(&args.aud),
        "--aud must be one of the accepted audiences: {}",
        config.auth.audiences.join(", ")
    );
    let ttl = dev_issuer::parse_ttl(&args.ttl).map_err(|e| anyhow::anyhow!("--ttl: {e}"))?;
    let issuer =
        DevIssuer::load_or_create(&config.data_dir, dev_issuer::issuer_url(config.bind_addr))?;
    let request = DevTokenRequest {
        sub: args.sub.clone(),
        aud: args.aud.clone(),
        email: args.email.clone(),
        name: args.name.clone(),
        groups: args.groups.clone(),
    };
    issuer.sign(&request, ttl)
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
    {
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
        platform_api::domain::tenants::workspace::ensure_default_tenant(
            &mut conn,
            &config.workspaces,
            config.jobs.max_attempts,
        )
        .await?;
    }
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
