//! `acs-identity emulator …`

use acs_identity_emulator::{Emulator, TlsCertificate};

use super::input::read_input_file;
use crate::cli::EmulatorArgs;
use crate::failure::Failure;
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
    // Without --data, the generated key and certificate go to a new
    // directory of this user's only (0700, a random name, created
    // exclusively: no name another user could have prepared), removed
    // when the command ends.
    let mut private_dir = None;
    let given_files = args.tls_cert.is_some();
    if args.tls {
        let certificate = match (args.tls_cert, args.tls_key, &args.data) {
            (Some(cert), Some(key), _) => TlsCertificate::Files { cert, key },
            (_, _, Some(data)) => TlsCertificate::Generated {
                dir: Some(
                    data.parent()
                        .unwrap_or(std::path::Path::new("."))
                        .to_path_buf(),
                ),
            },
            (_, _, None) => {
                let dir = private_directory()?;
                let path = dir.path().to_path_buf();
                private_dir = Some(dir);
                TlsCertificate::Generated { dir: Some(path) }
            }
        };
        builder = builder.tls(certificate);
    } else if given_files {
        return Err(Failure::usage("--tls-cert and --tls-key need --tls"));
    }
    if let Some(path) = args.data {
        builder = builder.data(path);
    }
    if let Some(path) = args.jwks {
        builder = builder.jwks(read_input_file(&path, "JWKS file (--jwks)")?);
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
            EmulatorError::InvalidHost { host } => Failure::usage(format!(
                "invalid value '{host}' for --host: neither an IP address nor a host name"
            )),
            // The files given with --tls-cert and --tls-key are arguments.
            EmulatorError::Tls { .. } if given_files => {
                Failure::usage(format!("--tls-cert/--tls-key: {e}"))
            }
            EmulatorError::Bind {
                port, ref source, ..
            } if source.kind() == std::io::ErrorKind::AddrInUse => Failure::call(format!(
                "port {port} is in use (another emulator?): pass --port 0 for any free port"
            )),
            other => Failure::call(other.to_string()),
        }
    })?;
    if let Some(path) = emulator.certificate_path() {
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
    drop(private_dir);
    Ok(())
}

/// A new directory for the generated key and certificate: a random name
/// under the temp directory, created with `mkdir` (which fails on any
/// existing name, a symlink included), mode 0700.
fn private_directory() -> Result<tempfile::TempDir, Failure> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("acs-identity-emulator-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir().map_err(|e| {
        Failure::call(format!(
            "could not create a private directory for the TLS key: {e}"
        ))
    })
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
