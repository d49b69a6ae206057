//! `acs-identity-token-service`: serves the token service.
//!
//! ```sh
//! acs-identity-token-service --config service.toml   # a real resource (ACS_CONNECTION_STRING)
//! acs-identity-token-service --emulator              # try it locally (feature `emulator`)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use acs_identity_token_service::{Config, LogFormat, TokenService};
use clap::Parser;

/// A trusted token service for Azure Communication Services.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The configuration file (TOML); environment variables override it.
    #[arg(long, short, value_name = "FILE", env = "ACS_TS_CONFIG")]
    config: Option<PathBuf>,
    /// Start a local emulator and a development sign-in issuer, and use
    /// them for whatever the configuration leaves unset.
    #[cfg(feature = "emulator")]
    #[arg(long)]
    emulator: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // A store call still running on a blocking thread does not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// The configuration is wrong.
    Usage(String),
    /// Something failed at run time.
    Run(String),
}

async fn run(args: Args) -> Result<(), Failure> {
    #[cfg(feature = "emulator")]
    let (config, _local) = if args.emulator {
        let emulator = acs_identity_emulator::Emulator::builder()
            .start()
            .await
            .map_err(|e| Failure::Run(e.to_string()))?;
        let issuer = acs_identity_token_service::DevIssuer::start()
            .await
            .map_err(|e| Failure::Run(format!("development issuer: {e}")))?;
        let connection_string = emulator.connection_string();
        let config = Config::load_with_defaults(
            args.config.as_deref(),
            &[
                ("connection_string", &connection_string),
                ("store", "sqlite::memory:"),
                ("oidc.issuer", issuer.issuer()),
                ("oidc.audience", DEV_AUDIENCE),
            ],
        )
        .map_err(|e| Failure::Usage(e.to_string()))?;
        eprintln!("Emulator: {}", emulator.endpoint());
        eprintln!(
            "Development sign-in issuer: {} (a token: curl -s -X POST '{}/token?sub=alice&aud={}')",
            issuer.issuer(),
            issuer.issuer(),
            config.oidc.audience
        );
        (config, Some((emulator, issuer)))
    } else {
        (
            Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?,
            None,
        )
    };
    #[cfg(not(feature = "emulator"))]
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;

    init_logging(config.log_format);
    let service = TokenService::new(&config)
        .await
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let (listener, addr) = bind(config.listen).await?;
    let admin = match config.admin_listen {
        Some(at) => Some(bind(at).await?),
        None => None,
    };
    eprintln!(
        "Listening on http://{addr} (POST /token with Authorization: Bearer <sign-in token>)"
    );
    println!("http://{addr}");
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let admin = admin.map(|(listener, at)| {
        eprintln!("Operations (/healthz, /readyz, /metrics) on http://{at}");
        println!("http://{at}");
        let mut stopped = stopped.clone();
        tokio::spawn(service.clone().serve_admin(listener, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop.send(true);
    });
    let mut public_stopped = stopped;
    service
        .serve(listener, async move {
            let _ = public_stopped.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| Failure::Run(e.to_string()))?;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    eprintln!("Stopped.");
    Ok(())
}

/// A listener on `at`, and the address it got.
async fn bind(
    at: std::net::SocketAddr,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), Failure> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| Failure::Run(format!("could not listen on {at}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Run(e.to_string()))?;
    Ok((listener, addr))
}

/// The request log on stderr: text (coloured on a terminal) or one JSON
/// object a line; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        _ => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// The audience of the development issuer's tokens in `--emulator` mode.
#[cfg(feature = "emulator")]
const DEV_AUDIENCE: &str = "acs-identity-token-service-dev";

/// SIGINT or SIGTERM.
async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
