//! https for the emulator: a certificate generated on first start (kept
//! beside the data file, so clients trust it once) or one given as PEM
//! files, served with rustls on the aws-lc-rs provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the emulator's TLS certificate comes from.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::{Emulator, TlsCertificate};
///
/// let emulator = Emulator::builder()
///     .tls(TlsCertificate::Generated { dir: None })
///     .start()
///     .await?;
/// assert!(emulator.connection_string().starts_with("endpoint=https://127.0.0.1:"));
/// assert!(emulator.certificate_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsCertificate {
    /// A self-signed certificate for `localhost`, `127.0.0.1`, `::1` and
    /// the `--host` name. With `dir`, kept there as
    /// [`CERTIFICATE_FILE`] and [`KEY_FILE`] (the key 0600, both created
    /// new, never through an existing name or a symlink) and reused on
    /// later starts (delete both to make a new one); without, made anew
    /// each start and kept in memory only.
    Generated {
        /// Where to keep it.
        dir: Option<PathBuf>,
    },
    /// A certificate chain and its private key, as PEM files of at most
    /// [`MAX_PEM_FILE`] bytes each.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key (PKCS #8, PKCS #1 or SEC1).
        key: PathBuf,
    },
}

/// The generated certificate's file name.
pub const CERTIFICATE_FILE: &str = "emulator-cert.pem";
/// The generated private key's file name.
pub const KEY_FILE: &str = "emulator-key.pem";

/// A certificate ready to serve.
pub struct Served {
    pub acceptor: TlsAcceptor,
    /// The certificate (chain) as PEM, for clients to trust.
    pub pem: String,
    /// Where it is, when it is in a file.
    pub path: Option<PathBuf>,
}

/// Why the certificate could not be used.
pub fn error(message: impl Into<String>) -> crate::EmulatorError {
    crate::EmulatorError::Tls {
        message: message.into(),
    }
}

/// Loads or makes the certificate; `host` is added to a generated one's
/// names.
pub fn prepare(
    choice: &TlsCertificate,
    host: Option<&str>,
) -> Result<Served, crate::EmulatorError> {
    let (cert_pem, key_pem, path) = match choice {
        TlsCertificate::Files { cert, key } => (read(cert)?, read(key)?, Some(cert.clone())),
        TlsCertificate::Generated { dir: Some(dir) } => {
            let cert = dir.join(CERTIFICATE_FILE);
            let key = dir.join(KEY_FILE);
            // A dangling symlink counts as there.
            let there = |p: &Path| p.symlink_metadata().is_ok();
            if cert.exists() && key.exists() {
                (read(&cert)?, read(&key)?, Some(cert))
            } else if there(&cert) || there(&key) {
                return Err(error(format!(
                    "found one of {} and {} without the other: delete it to make a new certificate",
                    cert.display(),
                    key.display()
                )));
            } else {
                let (cert_pem, key_pem) = generate(host)?;
                std::fs::create_dir_all(dir)
                    .map_err(|e| error(format!("could not create {}: {e}", dir.display())))?;
                write_new(&key, &key_pem, 0o600)?;
                write_new(&cert, &cert_pem, 0o644)?;
                (cert_pem, key_pem, Some(cert))
            }
        }
        TlsCertificate::Generated { dir: None } => {
            let (cert_pem, key_pem) = generate(host)?;
            (cert_pem, key_pem, None)
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| error(format!("the certificate is not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(error("the certificate file holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| error(format!("the private key is not PEM: {e}")))?;
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| error(format!("the certificate and key do not go together: {e}")))?;
    Ok(Served {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        pem: cert_pem,
        path,
    })
}

/// The largest certificate or key file read.
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Reads a PEM file of at most [`MAX_PEM_FILE`] bytes (never more into
/// memory, whatever the file is).
fn read(path: &Path) -> Result<String, crate::EmulatorError> {
    use std::io::Read as _;
    let failed = |e: std::io::Error| error(format!("could not read {}: {e}", path.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PEM_FILE + 1).read_to_end(&mut bytes))
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(error(format!(
            "{} is larger than {} KiB",
            path.display(),
            MAX_PEM_FILE / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| error(format!("{} is not PEM text", path.display())))
}

/// A new self-signed certificate and its key, as PEM.
fn generate(host: Option<&str>) -> Result<(String, String), crate::EmulatorError> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Some(host) = host.map(|h| h.trim_matches(['[', ']']))
        && !names.iter().any(|n| n == host)
    {
        names.push(host.to_string());
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| error(format!("could not generate a certificate: {e}")))?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

/// Writes a new file with `mode` (on Unix): never over an existing file or
/// through a symlink (`O_EXCL`), so a name prepared by someone else fails
/// the start instead of receiving the key.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), crate::EmulatorError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| error(format!("could not write {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| error(format!("could not write {}: {e}", path.display())))
}
