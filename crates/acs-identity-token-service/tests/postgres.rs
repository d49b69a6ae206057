//! The PostgreSQL store's pool against connections that go wrong after they
//! were made: a proxy on 127.0.0.1 between the store and the real server
//! silences or closes one chosen connection, and the store keeps serving.
//!
//! Needs a PostgreSQL database in `ACS_TS_POSTGRES_URL` (`.ci/run` starts
//! one); skipped without it, except under CI.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_identity_token_service::store::{Store, StoreOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The store's bound on one operation in these tests.
const BOUND: Duration = Duration::from_secs(2);

/// What an operation may take past [`BOUND`] before the test calls it a
/// wait beyond the bound (scheduling on a busy machine).
const SLACK: Duration = Duration::from_secs(1);

/// What the proxy does with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes flow both ways.
    Forward,
    /// Nothing reaches the store any more; what the store sends is read
    /// and dropped; both sockets stay open.
    Silent,
    /// Both sockets are closed.
    Dead,
}

/// One connection through the proxy.
struct Link {
    mode: watch::Sender<Mode>,
    /// Set when the store closed its side.
    closed_by_store: watch::Sender<bool>,
}

/// A TCP proxy to the real server that can silence or close any of the
/// connections it carries.
struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<Arc<Link>>>>,
    accepted: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links: Arc<Mutex<Vec<Arc<Link>>>> = Arc::default();
        let (count, accepted) = watch::channel(0);
        let task = tokio::spawn({
            let links = Arc::clone(&links);
            async move {
                loop {
                    let Ok((store_side, _)) = listener.accept().await else {
                        return;
                    };
                    let Ok(server_side) = TcpStream::connect(upstream).await else {
                        continue;
                    };
                    let link = Arc::new(Link {
                        mode: watch::Sender::new(Mode::Forward),
                        closed_by_store: watch::Sender::new(false),
                    });
                    links.lock().unwrap().push(Arc::clone(&link));
                    count.send_modify(|n| *n += 1);
                    tokio::spawn(relay(store_side, server_side, link));
                }
            }
        });
        Self {
            addr,
            links,
            accepted,
            task,
        }
    }

    /// The `i`th connection the proxy accepted.
    fn link(&self, i: usize) -> Arc<Link> {
        Arc::clone(&self.links.lock().unwrap()[i])
    }

    fn accepted(&self) -> usize {
        *self.accepted.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        for link in self.links.lock().unwrap().iter() {
            link.mode.send_replace(Mode::Dead);
        }
    }
}

/// Carries one connection as its link's mode says, until either side closes
/// or the mode is [`Mode::Dead`].
async fn relay(mut store_side: TcpStream, mut server_side: TcpStream, link: Arc<Link>) {
    let mut mode = link.mode.subscribe();
    let (mut up, mut down) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Dead => return,
            Mode::Forward => tokio::select! {
                read = store_side.read(&mut up) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => if server_side.write_all(&up[..n]).await.is_err() { return },
                },
                read = server_side.read(&mut down) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => if store_side.write_all(&down[..n]).await.is_err() { return },
                },
                _ = mode.changed() => {}
            },
            Mode::Silent => tokio::select! {
                read = store_side.read(&mut up) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                },
                _ = mode.changed() => {}
            },
        }
    }
    link.closed_by_store.send_replace(true);
}

/// The real server's address and a URL to the same database through `proxy`.
fn through(url: &str, proxy: SocketAddr) -> (SocketAddr, String) {
    let mut parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap().to_string();
    let port = parsed.port().unwrap_or(5432);
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .unwrap()
        .next()
        .unwrap();
    parsed.set_host(Some(&proxy.ip().to_string())).unwrap();
    parsed.set_port(Some(proxy.port())).unwrap();
    (upstream, parsed.to_string())
}

/// One store operation, timed.
async fn timed(store: &Store) -> (Result<(), String>, Duration) {
    let started = Instant::now();
    let result = store
        .lookup("pool-test-nobody")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    (result, started.elapsed())
}

/// Two operations at once (a pool of two: one on each connection), neither
/// waiting beyond the bound.
async fn two_at_once(store: &Store) -> [(Result<(), String>, Duration); 2] {
    let (a, b) = tokio::join!(timed(store), timed(store));
    for (result, took) in [&a, &b] {
        assert!(
            *took < BOUND + SLACK,
            "an operation waited {took:?}, beyond the bound: {result:?}"
        );
    }
    [a, b]
}

/// Pairs of operations until the proxy has carried `n` connections (two at
/// once need two connections, unless one ends before the other starts: a
/// few rounds make it sure). Returns the failed operations, each of which
/// failed at once (not on a timeout).
async fn until_accepted(store: &Store, proxy: &Proxy, n: usize) -> usize {
    let mut failures = 0;
    for _ in 0..10 {
        for (result, took) in two_at_once(store).await {
            if let Err(error) = result {
                failures += 1;
                assert!(took < BOUND, "failed at once: {error} after {took:?}");
            }
        }
        if proxy.accepted() >= n {
            return failures;
        }
    }
    panic!("{n} connections, saw {}", proxy.accepted());
}

/// A pool of two through the proxy: one connection silenced (the operation
/// on it fails within the bound while the other serves, and it is replaced),
/// then one closed (replaced, at most one quick failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_dead_connection_is_dropped_and_replaced_while_others_serve() {
    let Ok(url) = std::env::var("ACS_TS_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must give a PostgreSQL database in ACS_TS_POSTGRES_URL"
        );
        eprintln!("skipped: no ACS_TS_POSTGRES_URL");
        return;
    };
    let test = tokio::time::timeout(Duration::from_secs(20), async {
        let (upstream, _) = through(&url, "127.0.0.1:1".parse().unwrap());
        let proxy = Proxy::start(upstream).await;
        let (_, proxied) = through(&url, proxy.addr);
        let options = StoreOptions {
            pool_size: 2,
            query_timeout: BOUND,
            ..StoreOptions::default()
        };
        let store = Store::open_with(&proxied, &options).await.unwrap();

        // Both connections made and idle.
        assert_eq!(until_accepted(&store, &proxy, 2).await, 0);
        assert_eq!(proxy.accepted(), 2, "a pool of two");

        // One goes silent: the operation that lands on it fails within the
        // bound, the one beside it is served meanwhile.
        let silent = proxy.link(0);
        silent.mode.send_replace(Mode::Silent);
        let [a, b] = two_at_once(&store).await;
        let (failed, served) = if a.0.is_err() { (a, b) } else { (b, a) };
        let error = failed
            .0
            .expect_err("the operation on the silent connection fails");
        assert!(error.contains("within 2 s"), "{error}");
        assert!(
            !error.contains("postgres://"),
            "no URL in the message: {error}"
        );
        served.0.expect("the other connection serves");
        assert!(served.1 < BOUND, "served without waiting: {:?}", served.1);
        // The store dropped it (not back into the pool)…
        tokio::time::timeout(
            BOUND,
            silent
                .closed_by_store
                .subscribe()
                .wait_for(|closed| *closed),
        )
        .await
        .expect("the store closes the silent connection")
        .unwrap();
        // …and a fresh one serves beside the other.
        assert_eq!(
            until_accepted(&store, &proxy, 3).await,
            0,
            "served after the silent connection was dropped"
        );
        assert_eq!(proxy.accepted(), 3, "one connection made in its place");

        // One dies: at most one operation sees it (quickly), then a fresh
        // connection takes its place.
        proxy.link(1).mode.send_replace(Mode::Dead);
        let failures = until_accepted(&store, &proxy, 4).await;
        assert!(
            failures <= 1,
            "{failures} operations failed on one closed connection"
        );
        for (result, _) in two_at_once(&store).await {
            result.expect("served after the closed connection was replaced");
        }
        assert_eq!(proxy.accepted(), 4, "one connection made in its place");
    });
    test.await.expect("the test ends within 20 s");
}
