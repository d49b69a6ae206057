//! `acs-identity emulator …`

use acs_identity_emulator::{Emulator, TlsCertificate};

use super::Failure;
use crate::cli::EmulatorArgs;
use crate::output;

pub async fn run(args: EmulatorArgs) -> Result<(), Failure> {
    // The well-known key unless told otherwise; `random` as before.
    let mut builder = Emulator::builder()
        .well_known()
        .port(args.port)
        .page_size(args.page_size);
    match args.access_key.as_deref() {
        None => {}
        Some("random") => builder = builder.random_access_key(),
        Some(key) => builder = builder.access_key(key),
    }
    if let Some(host) = &args.host {
        builder = builder.host(host);
    }
    if args.tls {
        let certificate = match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => TlsCertificate::Files { cert, key },
            _ => TlsCertificate::Generated {
                dir: args.data.as_ref().map(|d| {
                    d.parent()
                        .unwrap_or(std::path::Path::new("."))
                        .to_path_buf()
                }),
            },
        };
        builder = builder.tls(certificate);
    } else if args.tls_cert.is_some() {
        return Err(Failure::usage("--tls-cert and --tls-key need --tls"));
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
            EmulatorError::Bind { port, ref source }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                Failure::call(format!(
                    "port {port} is in use (another emulator?): pass --port 0 for any free port"
                ))
            }
            other => Failure::call(other.to_string()),
        }
    })?;
    if let Some(pem) = emulator.certificate_pem() {
        // A certificate made for this run only is written where a client can
        // read it (the certificate is public; its key stays in memory).
        let path = match emulator.certificate_path() {
            Some(path) => path.to_path_buf(),
            None => {
                let path = std::env::temp_dir().join(format!(
                    "acs-identity-emulator-{}.pem",
                    emulator.addr().port()
                ));
                std::fs::write(&path, pem).map_err(|e| {
                    Failure::call(format!("could not write {}: {e}", path.display()))
                })?;
                path
            }
        };
        eprintln!(
            "TLS certificate: {} (trust it with REQUESTS_CA_BUNDLE and SSL_CERT_FILE for Python, NODE_EXTRA_CA_CERTS for Node, reqwest::Certificate::from_pem in Rust)",
            output::terminal_safe(&path.display().to_string())
        );
    }
    // stderr first: whoever reads the connection string from stdout may
    // stop the emulator at once and must not miss these lines.
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
