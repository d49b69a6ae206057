//! A local emulator of the Azure Communication Services Identity API.
//!
//! It serves every operation of 2025-03-02-preview and the stable operations
//! of 2021-03-07 through 2026-09-23 on 127.0.0.1, checks HMAC signatures the
//! way the service does, issues JWT access tokens, and keeps identities,
//! revocations and assignments in memory or in a SQLite file. Start it in
//! process for tests, or run `acs-identity emulator`.
//!
//! # Examples
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use acs_identity_emulator::Emulator;
//!
//! let emulator = Emulator::builder().start().await?;
//! let conn = emulator.connection_string();
//! assert!(conn.starts_with("endpoint=http://127.0.0.1:"));
//! emulator.shutdown().await;
//! # Ok::<(), acs_identity_emulator::EmulatorError>(())
//! # }).unwrap();
//! ```
//!
//! See the crate README for what matches the service and what is
//! emulator-only (`/_emulator/…` endpoints, group membership, fault
//! injection).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

mod api_error;
mod auth;
mod control;
pub mod faults;
mod jwt;
mod service;
mod store;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

pub use faults::Faults;
pub use service::{MAX_BODY, PREVIEW_VERSIONS, STABLE_VERSIONS};

use service::{Reply, Shared, Stats};
use store::Store;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The access key is not base64.
    #[error("the access key is not base64")]
    InvalidAccessKey,
    /// The port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
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
}

/// Options for [`Emulator`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    port: u16,
    access_key: Option<String>,
    data: Option<PathBuf>,
    faults: Faults,
    page_size: usize,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            access_key: None,
            data: None,
            faults: Faults::none(),
            page_size: 100,
        }
    }
}

impl EmulatorBuilder {
    /// The port on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The access key (base64; default: a random 64-byte key).
    pub fn access_key(mut self, key: impl Into<String>) -> Self {
        self.access_key = Some(key.into());
        self
    }

    /// Keep state in this SQLite file (default: in memory only).
    pub fn data(mut self, path: impl Into<PathBuf>) -> Self {
        self.data = Some(path.into());
        self
    }

    /// Faults to inject from the start.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Entra assignments per page of the list operation (default 100).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Starts serving.
    ///
    /// # Errors
    ///
    /// [`EmulatorError`] for a bad key, a taken port or an unusable data file.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        let key_text = match self.access_key {
            Some(k) => k,
            None => STANDARD.encode((0..64).map(|_| fastrand::u8(..)).collect::<Vec<u8>>()),
        };
        let key = STANDARD
            .decode(key_text.trim())
            .map_err(|_| EmulatorError::InvalidAccessKey)?;
        if key.is_empty() {
            return Err(EmulatorError::InvalidAccessKey);
        }
        let store = match &self.data {
            Some(path) => Store::open(path).map_err(|e| EmulatorError::Data {
                path: path.clone(),
                message: e.to_string(),
            })?,
            None => Store::memory(),
        };
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|source| EmulatorError::Bind {
                port: self.port,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                port: self.port,
                source,
            })?;
        let shared = Arc::new(Shared {
            store,
            access_key: key,
            faults: Mutex::new(self.faults),
            page_size: AtomicUsize::new(self.page_size),
            stats: Stats::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), stopped));
        Ok(Emulator {
            addr,
            access_key: key_text.trim().to_string(),
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops it (in the background); call
/// [`shutdown`](Self::shutdown) to wait until it has stopped.
pub struct Emulator {
    addr: SocketAddr,
    access_key: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("access_key", &"***")
            .finish_non_exhaustive()
    }
}

/// Counters of a running emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Requests received.
    pub requests: u64,
    /// Requests answered with 401 (any authentication or token check).
    pub unauthorized: u64,
    /// Faults injected.
    pub faults: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
}

impl Emulator {
    /// A builder with default options.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint, `http://127.0.0.1:PORT/`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The access key (base64).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// `endpoint=http://127.0.0.1:PORT/;accesskey=KEY`.
    pub fn connection_string(&self) -> String {
        format!("endpoint={};accesskey={}", self.endpoint(), self.access_key)
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults lock") = faults;
    }

    /// Sets the members of an Entra group (group membership cannot be known
    /// locally; group assignments use this list).
    ///
    /// # Panics
    ///
    /// When the data file cannot be written.
    pub fn set_group_members(
        &self,
        group_id: &str,
        members: impl IntoIterator<Item = impl Into<String>>,
    ) {
        self.shared
            .store
            .set_group_members(group_id, members.into_iter().map(Into::into).collect())
            .expect("storing group members");
    }

    /// Entra assignments per page from now on.
    pub fn set_page_size(&self, size: usize) {
        self.shared.page_size.store(size.max(1), Ordering::Relaxed);
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.shared.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: load(&s.requests),
            unauthorized: load(&s.unauthorized),
            faults: load(&s.faults),
            tokens_issued: load(&s.tokens_issued),
        }
    }

    /// Whether a token the emulator issued is valid now (not expired, not
    /// revoked, user not deleted).
    pub fn is_token_valid(&self, token: &str) -> bool {
        service::validate_token(&self.shared, token)["valid"] == true
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(stream, Arc::clone(&shared), stopped.clone()));
            }
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let drop_now = Arc::new(Notify::new());
    let signal = Arc::clone(&drop_now);
    let svc = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let signal = Arc::clone(&signal);
        async move {
            match service::handle(shared, req).await {
                Reply::Send(resp) => Ok::<_, Infallible>(resp),
                Reply::Drop => {
                    signal.notify_one();
                    std::future::pending().await
                }
            }
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    let mut closing = *stopped.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = drop_now.notified() => break,
            _ = stopped.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
