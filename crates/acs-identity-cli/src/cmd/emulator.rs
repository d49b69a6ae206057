//! `acs-identity emulator …`

use acs_identity_emulator::{Emulator, Faults};

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
    if let Some(spec) = args.faults {
        let faults: Faults =
            spec.parse()
                .map_err(|e: acs_identity_emulator::faults::FaultSpecError| {
                    Failure::from(e.to_string())
                })?;
        builder = builder.faults(faults);
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| Failure::call(e.to_string()))?;
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
