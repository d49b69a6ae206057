//! [`EmulatorBuilder`]: the emulator's options, and starting it.

#[cfg(feature = "persistence")]
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[cfg(feature = "tls")]
use crate::TlsCertificate;
use crate::emulator::{Emulator, REQUEST_LOG_CAPACITY};
use crate::error::EmulatorError;
use crate::faults::Faults;
#[cfg(feature = "jwks")]
use crate::jwks;
use crate::management_token::EntraKeys;
use crate::server::{self, Limits};
use crate::state::{Shared, Stats};
#[cfg(feature = "persistence")]
use crate::store::OpenError;
use crate::store::Store;
#[cfg(feature = "tls")]
use crate::tls;
use crate::{host, inspect};

/// The port `acs-identity emulator` listens on by default (see
/// [`EmulatorBuilder::well_known`]).
pub const WELL_KNOWN_PORT: u16 = 10700;

/// The development access key `acs-identity emulator` uses by default: a
/// published key, like Azurite's well-known account, so apps, docs and test
/// configurations can hard-code one connection string. Never a secret.
pub const WELL_KNOWN_ACCESS_KEY: &str =
    "YWNzLWlkZW50aXR5LWVtdWxhdG9yIGRldmVsb3BtZW50IGtleSwgbm90IGEgc2VjcmV0";

/// The connection string of `acs-identity emulator` started with no flags.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::{Emulator, WELL_KNOWN_CONNECTION_STRING};
///
/// // What `acs-identity emulator` with no flags prints first:
/// # let Ok(emulator) = Emulator::builder().well_known().start().await else { return Ok(()) };
/// assert_eq!(emulator.connection_string(), WELL_KNOWN_CONNECTION_STRING);
/// # emulator.shutdown().await;
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
pub const WELL_KNOWN_CONNECTION_STRING: &str = "endpoint=http://127.0.0.1:10700/;accesskey=YWNzLWlkZW50aXR5LWVtdWxhdG9yIGRldmVsb3BtZW50IGtleSwgbm90IGEgc2VjcmV0";

/// A base64 access key, decoded; not empty.
fn check_key(text: &str) -> Result<Vec<u8>, EmulatorError> {
    let key = STANDARD
        .decode(text.trim())
        .map_err(|_| EmulatorError::InvalidAccessKey)?;
    if key.is_empty() {
        return Err(EmulatorError::InvalidAccessKey);
    }
    Ok(key)
}

/// Which access key the emulator uses.
#[derive(Clone, PartialEq, Eq)]
enum KeyChoice {
    /// This one (and, with a data file, stored there).
    Given(String),
    /// The data file's, else a new random one.
    Random,
    /// The data file's, else [`WELL_KNOWN_ACCESS_KEY`].
    WellKnown,
}

/// Options for [`Emulator`].
#[derive(Clone)]
#[must_use]
pub struct EmulatorBuilder {
    port: u16,
    host: Option<String>,
    #[cfg(feature = "tls")]
    tls: Option<TlsCertificate>,
    access_key: KeyChoice,
    #[cfg(feature = "persistence")]
    data: Option<PathBuf>,
    faults: Faults,
    page_size: usize,
    max_connections: usize,
    header_timeout: Duration,
    body_timeout: Duration,
    jwks: Option<String>,
    token_lifetime: Option<Duration>,
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("EmulatorBuilder");
        d.field("port", &self.port)
            .field("host", &self.host)
            .field("access_key", &"***");
        #[cfg(feature = "persistence")]
        d.field("data", &self.data);
        d.field("faults", &self.faults)
            .field("page_size", &self.page_size)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("jwks", &self.jwks.is_some())
            .field("token_lifetime", &self.token_lifetime)
            .finish()
    }
}

/// Open connections at most, by default (see
/// [`EmulatorBuilder::max_connections`]).
///
/// # Examples
///
/// ```
/// assert_eq!(acs_identity_emulator::DEFAULT_MAX_CONNECTIONS, 512);
/// ```
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Time allowed for a request head, by default (see
/// [`EmulatorBuilder::header_timeout`]).
///
/// # Examples
///
/// ```
/// assert_eq!(acs_identity_emulator::DEFAULT_HEADER_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for a request body, by default (see
/// [`EmulatorBuilder::body_timeout`]).
///
/// # Examples
///
/// ```
/// assert_eq!(acs_identity_emulator::DEFAULT_BODY_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            host: None,
            #[cfg(feature = "tls")]
            tls: None,
            access_key: KeyChoice::Random,
            #[cfg(feature = "persistence")]
            data: None,
            faults: Faults::none(),
            page_size: 100,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            jwks: None,
            token_lifetime: None,
        }
    }
}

impl EmulatorBuilder {
    /// The port on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The access key (base64; default: a random 64-byte key, or with
    /// `data` (feature `persistence`) the key stored in the file by an earlier start).
    /// A given key is stored in the data file too.
    pub fn access_key(mut self, key: impl Into<String>) -> Self {
        self.access_key = KeyChoice::Given(key.into());
        self
    }

    /// A new random access key (the default), or with `data` (feature `persistence`)
    /// the one an earlier start kept there.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = acs_identity_emulator::Emulator::builder().well_known().random_access_key();
    /// # let _ = builder;
    /// ```
    pub fn random_access_key(mut self) -> Self {
        self.access_key = KeyChoice::Random;
        self
    }

    /// The well-known development settings: port [`WELL_KNOWN_PORT`] and
    /// key [`WELL_KNOWN_ACCESS_KEY`] (or the key stored in the data file),
    /// so the connection string is [`WELL_KNOWN_CONNECTION_STRING`]. What
    /// `acs-identity emulator` does with no flags.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = acs_identity_emulator::Emulator::builder().well_known();
    /// # let _ = builder;
    /// ```
    pub fn well_known(mut self) -> Self {
        self.port = WELL_KNOWN_PORT;
        self.access_key = KeyChoice::WellKnown;
        self
    }

    /// Listen on `host` (an address or a name that resolves to one)
    /// instead of 127.0.0.1: for a container, or other machines on the
    /// LAN. The Host check accepts this name too (besides the loopback
    /// names). A host that is not loopback is logged as a warning: the
    /// emulator has no access control beyond its key. Anything but an IP
    /// address (bracketed or not for IPv6) or a host name (letters,
    /// digits, `-` and `_` in dot-separated labels) is refused at
    /// [`start`](Self::start) with [`EmulatorError::InvalidHost`].
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let emulator = acs_identity_emulator::Emulator::builder().host("localhost").start().await?;
    /// assert!(emulator.endpoint().starts_with("http://localhost:"));
    /// # Ok::<(), acs_identity_emulator::EmulatorError>(())
    /// # }).unwrap();
    /// ```
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Serve https with this certificate; the connection string then says
    /// `https://`. See [`Emulator::certificate_pem`] for what a client
    /// must trust.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, certificate: TlsCertificate) -> Self {
        self.tls = Some(certificate);
        self
    }

    /// Keep state in this SQLite file (default: in memory only).
    ///
    /// It holds the access key and the token signing secret: it is
    /// created readable by its owner only (mode 0600), and a file others
    /// can read is made 0600 at start, with a warning. Any name of the file
    /// (a symlink, a path with `..`) meets the same lock
    /// ([`EmulatorError::DataInUse`]); a file with several names (hard
    /// links) is refused ([`EmulatorError::Data`]). Feature `persistence`.
    #[cfg(feature = "persistence")]
    pub fn data(mut self, path: impl Into<PathBuf>) -> Self {
        self.data = Some(path.into());
        self
    }

    /// Faults to inject from the start.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Issue Communication Services access tokens that live `lifetime`,
    /// whatever lifetime a request asks for (the request's
    /// `expiresInMinutes` is still checked). For tests of token refresh
    /// that should not wait an hour; the real service never does this.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let emulator = acs_identity_emulator::Emulator::builder()
    ///     .token_lifetime(Duration::from_secs(30))
    ///     .start()
    ///     .await?;
    /// let created: serde_json::Value = reqwest::Client::new()
    ///     .post(format!("{}identities?api-version=2025-06-30", emulator.endpoint()))
    ///     .bearer_auth(emulator.management_token())
    ///     .json(&serde_json::json!({"createTokenWithScopes": ["chat"], "expiresInMinutes": 60}))
    ///     .send()
    ///     .await?
    ///     .json()
    ///     .await?;
    /// let expires_on = created["accessToken"]["expiresOn"].as_str().unwrap();
    /// let left = chrono::DateTime::parse_from_rfc3339(expires_on)?.to_utc() - chrono::Utc::now();
    /// assert!(left <= chrono::Duration::seconds(30));
    /// # Ok(())
    /// # }
    /// ```
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// Entra assignments per page of the list operation (default 100).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Open connections at most (default [`DEFAULT_MAX_CONNECTIONS`], at
    /// least 1). Past it, a new connection closes the oldest one that has no
    /// request in flight, so idle sockets cannot lock clients out.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), acs_identity_emulator::EmulatorError> {
    /// let emulator = acs_identity_emulator::Emulator::builder()
    ///     .max_connections(64)
    ///     .start()
    ///     .await?;
    /// # emulator.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Time allowed for a request head to arrive, and for a keep-alive
    /// connection to start its next request (default
    /// [`DEFAULT_HEADER_TIMEOUT`]); the connection is closed after it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), acs_identity_emulator::EmulatorError> {
    /// use std::time::Duration;
    ///
    /// let emulator = acs_identity_emulator::Emulator::builder()
    ///     .header_timeout(Duration::from_secs(5))
    ///     .start()
    ///     .await?;
    /// # emulator.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Time allowed for a request body to arrive once its head has (default
    /// [`DEFAULT_BODY_TIMEOUT`]); a body shorter than its `Content-Length`
    /// gets 408 `RequestTimeout` and the connection is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), acs_identity_emulator::EmulatorError> {
    /// use std::time::Duration;
    ///
    /// let emulator = acs_identity_emulator::Emulator::builder()
    ///     .body_timeout(Duration::from_secs(5))
    ///     .start()
    ///     .await?;
    /// # emulator.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Also accept management bearer tokens signed (RS256) by a key of this
    /// JWKS document (`{"keys": [{"kty": "RSA", "kid", "n", "e"}, …]}`, the
    /// format of an issuer's `jwks_uri`), so a test can use tokens from its
    /// own issuer. The audience, `exp` and `nbf` rules are the same as for
    /// the emulator's own tokens. Read when the emulator starts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use acs_identity_emulator::{Emulator, EmulatorError};
    ///
    /// let refused = Emulator::builder().jwks(r#"{"keys": []}"#).start().await;
    /// assert!(matches!(refused, Err(EmulatorError::InvalidJwks { .. })));
    /// # }
    /// ```
    #[cfg(feature = "jwks")]
    pub fn jwks(mut self, document: impl Into<String>) -> Self {
        self.jwks = Some(document.into());
        self
    }

    /// Starts serving.
    ///
    /// # Errors
    ///
    /// [`EmulatorError`] for a bad key, a taken port, a data file another
    /// emulator holds ([`EmulatorError::DataInUse`]), a corrupt one
    /// ([`EmulatorError::CorruptData`]) or an otherwise unusable one.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        if let KeyChoice::Given(k) = &self.access_key {
            check_key(k)?;
        }
        if let Some(host) = &self.host
            && !host::is_address_or_name(host)
        {
            return Err(EmulatorError::InvalidHost { host: host.clone() });
        }
        #[cfg(feature = "persistence")]
        let store = match &self.data {
            Some(path) => Store::open(path).map_err(|e| match e {
                OpenError::InUse => EmulatorError::DataInUse { path: path.clone() },
                OpenError::Corrupt(detail) => EmulatorError::CorruptData {
                    path: path.clone(),
                    detail,
                },
                other => EmulatorError::Data {
                    path: path.clone(),
                    message: other.to_string(),
                },
            })?,
            None => Store::memory(),
        };
        #[cfg(not(feature = "persistence"))]
        let store = Store::memory();
        let stored = store.stored_access_key();
        let key_text = match (self.access_key, stored) {
            (KeyChoice::Given(k), _) => k.trim().to_string(),
            (_, Some(stored)) if check_key(&stored).is_ok() => stored,
            (KeyChoice::WellKnown, _) => WELL_KNOWN_ACCESS_KEY.to_string(),
            (KeyChoice::Random, _) => {
                STANDARD.encode((0..64).map(|_| fastrand::u8(..)).collect::<Vec<u8>>())
            }
        };
        let key = check_key(&key_text)?;
        store
            .keep_access_key(&key_text)
            .map_err(|e| EmulatorError::Storage {
                message: e.to_string(),
            })?;
        let bind_host = self.host.clone().unwrap_or_else(|| "127.0.0.1".to_string());
        let bind_name = bind_host.trim_matches(['[', ']']);
        let shown_host = if bind_name.contains(':') {
            format!("[{bind_name}]")
        } else {
            bind_name.to_string()
        };
        let listener = TcpListener::bind((bind_name, self.port))
            .await
            .map_err(|source| EmulatorError::Bind {
                host: shown_host.clone(),
                port: self.port,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                host: shown_host,
                port: self.port,
                source,
            })?;
        if !addr.ip().is_loopback() {
            tracing::warn!(
                address = %addr,
                "the emulator listens beyond this machine; anyone who can reach it and knows the key can use it"
            );
        }
        #[cfg(feature = "tls")]
        let (transport, certificate) = match &self.tls {
            Some(choice) => {
                let served = tls::prepare(choice, self.host.as_deref())?;
                (
                    server::Transport::Tls(served.acceptor),
                    Some((served.pem, served.path)),
                )
            }
            None => (server::Transport::Plain, None),
        };
        #[cfg(not(feature = "tls"))]
        let (transport, certificate) = (server::Transport::Plain, None);
        let scheme = if certificate.is_some() {
            "https"
        } else {
            "http"
        };
        let entra = EntraKeys::random();
        #[cfg(feature = "jwks")]
        let entra = match &self.jwks {
            Some(document) => entra.with_jwks(jwks::Jwks::parse(document).map_err(|e| {
                EmulatorError::InvalidJwks {
                    message: e.to_string(),
                }
            })?),
            None => entra,
        };
        let shared = Arc::new(Shared {
            store,
            access_key: key,
            entra,
            body_timeout: self.body_timeout,
            faults: Mutex::new(self.faults),
            page_size: AtomicUsize::new(self.page_size),
            stats: Stats::default(),
            requests: inspect::RequestLog::new(REQUEST_LOG_CAPACITY),
            host_name: self.host.clone(),
            scheme,
            token_lifetime: self.token_lifetime,
        });
        let (stop, stopped) = watch::channel(false);
        let limits = Limits {
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
        };
        let task = tokio::spawn(server::serve(
            listener,
            transport,
            Arc::clone(&shared),
            limits,
            stopped,
        ));
        // The name in the endpoint: the configured one, but a wildcard
        // address is reached through loopback.
        let url_host = match &self.host {
            Some(h) if !addr.ip().is_unspecified() => {
                if h.contains(':') && !h.starts_with('[') {
                    format!("[{h}]")
                } else {
                    h.clone()
                }
            }
            _ if addr.is_ipv6() => "[::1]".to_string(),
            _ => "127.0.0.1".to_string(),
        };
        Ok(Emulator {
            addr,
            url_host,
            scheme,
            certificate,
            access_key: key_text,
            shared,
            stop,
            task: Some(task),
        })
    }
}
