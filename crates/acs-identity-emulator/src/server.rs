//! The accept loop and the connections.
//!
//! - At most [`Limits::max_connections`] connections are open. A new one
//!   past the cap closes the oldest connection with no request in flight
//!   (idle keep-alive, or a request head still arriving), so a client that
//!   sends a real request is served while idle sockets fill the cap; when
//!   every connection is busy the new one is closed.
//! - A request head must arrive within [`Limits::header_timeout`] (this also
//!   closes keep-alive connections idle that long); a body within the body
//!   timeout (408, see the service).
//! - When `accept` fails (out of file descriptors, say), the loop closes the
//!   oldest idle connection and pauses, 1 ms doubling to 1 s while failures
//!   go on, instead of spinning.
//! - A handler that panics gets 500 with the service's error body; shared
//!   state stays usable (see [`crate::sync`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::api_error::ApiError;
use crate::request;
use crate::response::{self, Reply};
use crate::state::Shared;
use crate::sync::lock;

/// Connection limits and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Time allowed for a request head (and for a keep-alive connection to
    /// send its next request).
    pub header_timeout: Duration,
}

/// An open connection, as the accept loop sees it.
struct Slot {
    in_flight: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: BTreeMap<u64, Slot>,
}

impl Registry {
    fn add(&mut self) -> (u64, Arc<AtomicUsize>, Arc<Notify>) {
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot {
            in_flight: Arc::new(AtomicUsize::new(0)),
            close: Arc::new(Notify::new()),
        };
        let handles = (id, Arc::clone(&slot.in_flight), Arc::clone(&slot.close));
        self.open.insert(id, slot);
        handles
    }

    /// Closes the oldest connection with no request in flight; false when
    /// every connection is busy.
    fn close_oldest_idle(&mut self) -> bool {
        let idle = self
            .open
            .iter()
            .find(|(_, s)| s.in_flight.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match idle.and_then(|id| self.open.remove(&id)) {
            Some(slot) => {
                slot.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the registry when its task ends.
struct Registered {
    registry: Arc<Mutex<Registry>>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.registry).open.remove(&self.id);
    }
}

/// The pause after a failed `accept`: 1 ms, doubling to 1 s, back to 1 ms
/// after a success.
#[derive(Debug)]
pub struct AcceptBackoff {
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(1);
    const MOST: Duration = Duration::from_secs(1);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The pause after one more failure.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MOST);
        pause
    }

    pub fn succeeded(&mut self) {
        self.next = Self::FIRST;
    }
}

/// How connections are served: plain, or TLS with this acceptor.
#[derive(Clone)]
pub enum Transport {
    Plain,
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

/// Runs one accepted connection: for TLS, the handshake first (bounded by
/// the header timeout, like a request head).
async fn open_connection(
    stream: tokio::net::TcpStream,
    transport: Transport,
    shared: Arc<Shared>,
    limits: Limits,
    handles: Handles,
    stopped: watch::Receiver<bool>,
) {
    match transport {
        Transport::Plain => connection(stream, shared, limits, handles, stopped).await,
        #[cfg(feature = "tls")]
        Transport::Tls(acceptor) => {
            match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => connection(tls, shared, limits, handles, stopped).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake refused"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

/// Accepts and serves until `stopped`, then lets connections finish (5 s).
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    shared: Arc<Shared>,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::new();
    let mut last_logged: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    let mut reg = lock(&registry);
                    if reg.open.len() >= limits.max_connections && !reg.close_oldest_idle() {
                        // Every connection is busy: this one is refused.
                        tracing::warn!(limit = limits.max_connections, "connection limit reached; closing a new connection");
                        continue;
                    }
                    let (id, in_flight, close) = reg.add();
                    drop(reg);
                    let _ = stream.set_nodelay(true);
                    let registered = Registered { registry: Arc::clone(&registry), id };
                    connections.spawn(open_connection(
                        stream,
                        transport.clone(),
                        Arc::clone(&shared),
                        limits,
                        Handles { in_flight, close, registered },
                        stopped.clone(),
                    ));
                }
                Err(e) => {
                    // Logged at most every 10 s: the failure repeats under load.
                    if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        last_logged = Some(std::time::Instant::now());
                        tracing::warn!(error = %e, "accept failed; closing the oldest idle connection and pausing");
                    }
                    lock(&registry).close_oldest_idle();
                    let pause = backoff.failed();
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.changed() => break,
                    }
                }
            },
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

/// What a connection task holds of the registry.
struct Handles {
    in_flight: Arc<AtomicUsize>,
    close: Arc<Notify>,
    registered: Registered,
}

/// Counts a request in flight while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs a handler; a panic in it becomes a 500 with the service's error
/// body (and an error log) instead of a dropped connection.
async fn answer_panics(handler: impl Future<Output = Reply>) -> Reply {
    AssertUnwindSafe(handler)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            tracing::error!("a request handler panicked; answered 500");
            Reply::Send(response::error(&ApiError::new(
                500,
                "InternalServerError",
                "The emulator failed while handling the request.",
            )))
        })
}

async fn connection<S>(
    stream: S,
    shared: Arc<Shared>,
    limits: Limits,
    handles: Handles,
    mut stopped: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Handles {
        in_flight,
        close,
        registered: _registered,
    } = handles;
    let in_flight_now = Arc::clone(&in_flight);
    let drop_now = Arc::new(Notify::new());
    let signal = Arc::clone(&drop_now);
    let svc = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let signal = Arc::clone(&signal);
        let busy = InFlight::new(&in_flight);
        async move {
            let answer = answer_panics(request::handle(shared, req)).await;
            drop(busy);
            match answer {
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
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    // On stop, a connection with no request in flight closes at once (a
    // stalled request head would otherwise hold the shutdown for its 5 s);
    // one with a request finishes it first.
    let idle = || in_flight_now.load(Ordering::Acquire) == 0;
    let mut closing = *stopped.borrow();
    if closing {
        if idle() {
            return;
        }
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = drop_now.notified() => break,
            _ = close.notified() => break,
            _ = stopped.changed(), if !closing => {
                if idle() {
                    break;
                }
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_with_500() {
        let reply = answer_panics(async { panic!("a bug in a handler") }).await;
        match reply {
            Reply::Send(resp) => assert_eq!(resp.status().as_u16(), 500),
            Reply::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn accept_backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::new();
        let pauses: Vec<u128> = (0..12).map(|_| b.failed().as_millis()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(1));
    }

    #[test]
    fn the_oldest_idle_connection_is_closed_first_and_busy_ones_never() {
        let mut reg = Registry::default();
        let (_, busy, busy_close) = reg.add();
        let (_, _, idle_close) = reg.add();
        let (_, _, newest_close) = reg.add();
        busy.fetch_add(1, Ordering::AcqRel);
        assert!(reg.close_oldest_idle());
        assert_eq!(reg.open.len(), 2);
        // The idle one was told to close (a permit is stored), not the busy one.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut notified = std::pin::pin!(idle_close.notified());
        assert!(notified.as_mut().poll(&mut cx).is_ready());
        let mut notified = std::pin::pin!(busy_close.notified());
        assert!(notified.as_mut().poll(&mut cx).is_pending());
        assert!(reg.close_oldest_idle(), "then the newest idle one");
        let mut notified = std::pin::pin!(newest_close.notified());
        assert!(notified.as_mut().poll(&mut cx).is_ready());
        assert!(!reg.close_oldest_idle(), "only a busy one is left");
    }
}
