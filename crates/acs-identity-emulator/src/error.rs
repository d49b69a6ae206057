//! Why the emulator could not start, or could not keep its state.

use std::path::PathBuf;

/// Why the emulator could not start.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "persistence")] {
/// use acs_identity_emulator::{Emulator, EmulatorError};
///
/// # let dir = std::env::temp_dir().join(format!("emulator-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("state.db");
/// let first = Emulator::builder().data(&path).start().await?;
/// match Emulator::builder().data(&path).start().await {
///     Err(EmulatorError::DataInUse { .. }) => {} // one emulator per data file
///     other => panic!("{other:?}"),
/// }
/// first.shutdown().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The access key is not base64.
    #[error("the access key is not base64")]
    InvalidAccessKey,
    /// The host given to [`EmulatorBuilder::host`](crate::EmulatorBuilder::host) is neither an IP
    /// address nor a host name.
    #[error("`{host}` is neither an IP address nor a host name")]
    InvalidHost {
        /// The host as given.
        host: String,
    },
    /// The port could not be bound.
    #[error("could not listen on {host}:{port}: {source}")]
    Bind {
        /// The address or name asked for (`127.0.0.1` unless
        /// [`EmulatorBuilder::host`](crate::EmulatorBuilder::host) was given; IPv6 in brackets).
        host: String,
        /// The port asked for.
        port: u16,
        /// The error.
        source: std::io::Error,
    },
    /// The data file could not be opened.
    #[error("could not open the data file {path}: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another emulator holds the data file, under this name or another
    /// (an OS lock on `PATH.lock` beside the file's resolved name, released
    /// when that emulator exits, however it exits).
    #[error("the data file {path} is in use by another emulator; stop it or pick another file")]
    DataInUse {
        /// The file.
        path: PathBuf,
    },
    /// The JWKS document given to `EmulatorBuilder::jwks` (feature `jwks`) has no usable
    /// RS256 key or is not JSON.
    #[error("{message}")]
    InvalidJwks {
        /// What is wrong.
        message: String,
    },
    /// The data file failed SQLite's integrity check (`PRAGMA quick_check`),
    /// or is not a SQLite database.
    #[error("the data file {path} is corrupt ({detail}); restore it or start with another file")]
    CorruptData {
        /// The file.
        path: PathBuf,
        /// What the check found.
        detail: String,
    },
    /// The TLS certificate or key could not be read, made or used.
    #[error("TLS: {message}")]
    Tls {
        /// What went wrong.
        message: String,
    },
    /// The data file refused a write.
    #[error("the emulator could not write its data file: {message}")]
    Storage {
        /// What the database said.
        message: String,
    },
}
