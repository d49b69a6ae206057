//! Serving connections with a bound on every wait a peer can impose.
//!
//! `axum::serve` reads request heads for as long as a client cares to send
//! them and keeps idle connections open for ever. This accept loop serves
//! each connection with hyper's HTTP/1 server and its timer:
//!
//! - **request heads** must arrive within [`Limits::header_timeout`]; the
//!   same bound closes a keep-alive connection that stays idle that long
//!   (hyper starts the head timer as soon as it waits for the next request);
//! - **bodies** are read within [`Limits::body_timeout`] (by the handlers,
//!   which answer 408 past it);
//! - **open connections** are capped at [`Limits::max_connections`], below
//!   the process's descriptor limit, so the store and the outgoing calls
//!   always have descriptors; past the cap new connections wait in the
//!   listen queue until one closes;
//! - **accept errors** (out of descriptors, and the like) pause the loop
//!   with a growing delay (up to a second) instead of spinning;
//! - **shutdown** stops accepting, lets requests in flight finish within
//!   [`Limits::shutdown_grace`], then returns whatever the clients do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Descriptors kept free for the store, the outgoing calls (ACS, the
/// issuer's keys) and the process itself, however many connections come.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The most connections served at once when the descriptor limit allows
/// more.
pub const MAX_CONNECTIONS: usize = 10_000;

/// The bounds a connection is served under.
///
/// # Examples
///
/// ```
/// use acs_identity_token_service::server::Limits;
/// use std::time::Duration;
///
/// let limits = Limits::default();
/// assert_eq!(limits.header_timeout, Duration::from_secs(15));
/// assert!(limits.max_connections >= 16);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// The longest wait for a request head, and for the next request on an
    /// idle keep-alive connection.
    pub header_timeout: Duration,
    /// The longest wait for a request body.
    pub body_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long requests in flight may finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What the process's descriptor limit allows: the soft limit less
/// [`RESERVED_DESCRIPTORS`] (at least 16 connections, at most
/// [`MAX_CONNECTIONS`]).
pub fn default_max_connections() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let usable = soft.saturating_sub(RESERVED_DESCRIPTORS).max(16);
    usize::try_from(usable)
        .unwrap_or(MAX_CONNECTIONS)
        .min(MAX_CONNECTIONS)
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut pause = Duration::ZERO;
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                pause = Duration::ZERO;
                stream
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (or memory): wait for some to free up
                // rather than spin on an error that will come back at once.
                pause = (pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                tracing::warn!("accepting a connection failed: {e}; pausing {pause:?}");
                tokio::select! {
                    () = tokio::time::sleep(pause) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            // A peer that breaks the protocol or times out ends only its
            // own connection.
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    let open = graceful.count();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after the {:?} grace period (of {open} at shutdown); stopping anyway",
            limits.shutdown_grace
        );
    }
    Ok(())
}

/// Errors of one connection (it was reset before it was accepted), which
/// say nothing of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    )
}
