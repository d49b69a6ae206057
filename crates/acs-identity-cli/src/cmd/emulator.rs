//! `acs-identity emulator …`

use acs_identity_emulator::Emulator;

use super::Failure;
use crate::cli::EmulatorArgs;
use crate::output;

pub async fn run(args: EmulatorArgs) -> Result<(), Failure> {
    let mut builder = Emulator::builder()
        .port(args.port)
        .page_size(args.page_size);
    if let Some(key) = args.access_key {
        builder = builder.access_key(key);
    }
    if let Some(path) = args.data {
        builder = builder.data(path);
    }
    if let Some(path) = args.jwks {
        let document = std::fs::read_to_string(&path).map_err(|e| {
            Failure::from(format!(
                "could not read the JWKS file {}: {e}",
                path.display()
            ))
        })?;
        builder = builder.jwks(document);
    }
    // Parsed (and bounds-checked) by clap: a bad spec exits 2 before this.
    if let Some(faults) = args.faults {
        builder = builder.faults(faults);
    }
    let emulator = builder.start().await.map_err(|e| {
        use acs_identity_emulator::EmulatorError;
        // A bad argument is a usage error; a port, file or database that
        // cannot be used is a failure.
        match e {
            EmulatorError::InvalidAccessKey | EmulatorError::InvalidJwks { .. } => {
                Failure::usage(e.to_string())
            }
            other => Failure::call(other.to_string()),
        }
    })?;
    output::line(&emulator.connection_string())?;
    wait_for_signal().await?;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<(), Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Failure::call(format!("could not watch SIGTERM: {e}")))?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| Failure::call(format!("could not watch SIGINT: {e}"))),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<(), Failure> {
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::call(format!("could not watch Ctrl-C: {e}")))
}
