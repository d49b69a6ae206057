//! Tokens per second through the token service against the in-process
//! emulator, at concurrency 8 and 64, with the cache on (a fresh token is
//! answered from memory after the sign-in token is verified) and off (each
//! request also maps the user in SQLite and asks the emulator for a token),
//! beside the quickstart-shaped peer: `benches/peer/server.mjs`, a Node
//! handler calling the official `@azure/communication-identity` per request
//! (no sign-in check, users in a `Map`), against the same kind of emulator.
//!
//! ```sh
//! cargo bench --profile release -p acs-identity-token-service --bench load            # the tables
//! cargo bench --profile release -p acs-identity-token-service --bench load -- --quick # a smoke run
//! cargo xtask bench --token-service                                                   # the same
//! ```
//!
//! Flags: `--quick` (a tenth of the requests; the peer only if its
//! dependencies are already installed), `--no-peer`, `--requests N` (per
//! row and per part of the split; default 20,000, 2,000 with `--quick`).
//!
//! # Where the CPU is counted
//!
//! The service, the emulator and the load client share one process and the
//! machine's cores, but each runs on a tokio runtime of its own with named
//! threads (`ts-service`, `ts-emulator`, `ts-load`; a runtime's blocking
//! threads, where SQLite runs, carry its name too). A row's "CPU/request"
//! is the CPU time of the `ts-service` threads during the run (from
//! `/proc/self/task/*/schedstat`, nanoseconds; `stat`'s utime+stime where
//! schedstat is missing) divided by the requests. For the peer it is the
//! node process's threads (`/proc/PID/task/*`): the peer's whole service.
//! The last column gives the `ts-emulator` and `ts-load` threads' CPU per
//! request the same way: what the rest of the machine spent on each token.
//!
//! The split of the service's CPU per request is measured the same way, each
//! part alone on a fresh `ts-service` runtime, 8 tasks at a time: the
//! sign-in verification (`oidc::Verifier::verify` on the bench's sign-in
//! tokens; a repeated token is remembered, as in the service), the store
//! (`Store::claim` of a mapped user in `sqlite::memory:`, printed below
//! the table: the service answers a known user's mapping from memory, so
//! the rows' requests do not reach the store),
//! the ACS call (`get_token` of an `acs-identity` client against the
//! emulator: the client's side only, the emulator runs elsewhere), and the
//! rest: the row's total minus those parts (HTTP, routing, JSON, the cache,
//! metrics, scheduling).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_identity::{CommunicationIdentityClient, CommunicationUserIdentifier, TokenScope};
use acs_identity_emulator::Emulator;
use acs_identity_token_service::oidc::Verifier;
use acs_identity_token_service::store::{Claim, Store};
use acs_identity_token_service::{Config, DevIssuer, TokenService};
use tokio::runtime::Runtime;

/// Distinct app users the load cycles through.
const USERS: usize = 64;
/// The concurrencies of the table.
const CONCURRENCIES: [usize; 2] = [8, 64];
/// The concurrency the parts of the split are measured at.
const SPLIT_CONCURRENCY: usize = 8;
/// The service's threads (at most 15 bytes: the kernel's `comm`).
const SERVICE_THREADS: &str = "ts-service";
/// The emulator's threads (and the development issuer's).
const EMULATOR_THREADS: &str = "ts-emulator";
/// The load client's threads.
const CLIENT_THREADS: &str = "ts-load";
/// The peer's pinned SDK, for the table.
const PEER: &str = "peer (Node, @azure/communication-identity 1.3.1)";

/// One run's figures.
struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU of the service (or the peer) per request.
    cpu: Duration,
    /// CPU of the emulator per request.
    emulator_cpu: Duration,
    /// CPU of the load client per request.
    client_cpu: Duration,
}

/// A row: our service (cache on or off) or the peer, or why the peer is missing.
struct Row {
    who: Who,
    concurrency: usize,
    run: Result<Run, String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Service { cached: bool },
    Peer,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let no_peer = args.iter().any(|a| a == "--no-peer");
    let requests = match args.iter().position(|a| a == "--requests") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 64)
            .expect("--requests N, N at least 64"),
        None if quick => 2_000,
        None => 20_000,
    };
    let emulators = runtime(EMULATOR_THREADS);
    let load = runtime(CLIENT_THREADS);

    let mut rows = Vec::new();
    for cached in [true, false] {
        for concurrency in CONCURRENCIES {
            let run = measure_service(&emulators, &load, cached, concurrency, requests);
            rows.push(Row {
                who: Who::Service { cached },
                concurrency,
                run: Ok(run),
            });
        }
    }
    let peer_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer");
    let ready = if no_peer {
        Err("--no-peer".to_string())
    } else {
        peer_dependencies(&peer_dir, quick)
    };
    for concurrency in CONCURRENCIES {
        let run = match &ready {
            Ok(()) => measure_peer(&emulators, &load, &peer_dir, concurrency, requests),
            Err(why) => Err(why.clone()),
        };
        rows.push(Row {
            who: Who::Peer,
            concurrency,
            run,
        });
    }
    let split = measure_split(&emulators, requests);

    println!(
        "\n### Token service, round 2 ({requests} requests a row; {} cores; service, emulator, load client in one process, the peer in node)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print_rows(&rows);
    println!();
    print_split(&split, &rows);
    println!();
    print_targets(&rows);
}

/// A multi-thread runtime whose threads (workers and blocking) are `name`.
/// Idle blocking threads are kept, so that none exits (taking its CPU time
/// with it) between two readings.
fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name(name)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()
        .expect("a runtime")
}

// ---------------------------------------------------------------------------
// The runs.

fn measure_service(
    emulators: &Runtime,
    load: &Runtime,
    cached: bool,
    concurrency: usize,
    requests: usize,
) -> Run {
    let (emulator, issuer) = emulators.block_on(async {
        let emulator = Emulator::builder()
            .start()
            .await
            .expect("the emulator starts");
        let issuer = DevIssuer::start().await.expect("the issuer starts");
        (emulator, issuer)
    });
    let config = config(&emulator, &issuer, cached);
    // A runtime of its own, dropped with the row: nothing of this service
    // is left running in the next row's readings.
    let service_rt = runtime(SERVICE_THREADS);
    let (url, stop) = service_rt.block_on(async {
        let service = TokenService::new(&config)
            .await
            .expect("the service starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!(
            "http://{}/token",
            listener.local_addr().expect("an address")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(service.serve(listener, async {
            let _ = stopped.await;
        }));
        (url, stop)
    });
    let sign_ins: Arc<Vec<String>> = Arc::new(
        (0..USERS)
            .map(|i| issuer.token("bench", &format!("user-{i}")))
            .collect(),
    );
    let send = move |http: &reqwest::Client, i: usize| {
        http.post(&url).bearer_auth(&sign_ins[i % USERS]).send()
    };
    let run = load.block_on(drive(send, concurrency, requests, || {
        thread_cpu("self", Some(SERVICE_THREADS))
    }));
    let _ = stop.send(());
    service_rt.shutdown_timeout(Duration::from_secs(5));
    drop((emulator, issuer));
    run
}

fn config(emulator: &Emulator, issuer: &DevIssuer, cached: bool) -> Config {
    Config::from_toml(&format!(
        "connection_string = {:?}\nstore = \"sqlite::memory:\"\n\
         [oidc]\nissuer = {:?}\naudience = \"bench\"\n\
         [tokens]\ncache = {cached}\nrate_limit_per_minute = 0\n",
        emulator.connection_string(),
        issuer.issuer(),
    ))
    .expect("a valid configuration")
}

fn measure_peer(
    emulators: &Runtime,
    load: &Runtime,
    dir: &Path,
    concurrency: usize,
    requests: usize,
) -> Result<Run, String> {
    let emulator = emulators.block_on(async {
        Emulator::builder()
            .start()
            .await
            .expect("the emulator starts")
    });
    let peer = Peer::start(dir, &emulator.connection_string())?;
    let (url, pid) = (format!("{}/token", peer.url), peer.child.id().to_string());
    let send = move |http: &reqwest::Client, i: usize| {
        http.post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"appUserId\":\"user-{}\"}}", i % USERS))
            .send()
    };
    let run = load.block_on(drive(send, concurrency, requests, || {
        thread_cpu(&pid, None)
    }));
    drop(peer);
    drop(emulator);
    Ok(run)
}

/// Warms up (each user once: mapped, and with a cache holding a token; then
/// a tenth of the requests, at least 2,000, so that the peer's JIT and both
/// sides' connections are warm: with 500, the peer's CPU per request in a
/// `--quick` run was twice that of a full run), then sends `requests` requests from
/// `concurrency` tasks and reads `cpu` (the CPU time of whoever answers),
/// the emulator's and the client's before and after.
async fn drive<F, R>(
    send: F,
    concurrency: usize,
    requests: usize,
    cpu: impl Fn() -> Duration,
) -> Run
where
    F: Fn(&reqwest::Client, usize) -> R + Clone + Send + 'static,
    R: Future<Output = reqwest::Result<reqwest::Response>> + Send,
{
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    for user in 0..USERS {
        let response = send(&http, user).await.expect("the service answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "warm-up: {body}");
    }
    batch(&http, &send, concurrency, (requests / 10).max(2_000)).await;

    let others = || {
        (
            thread_cpu("self", Some(EMULATOR_THREADS)),
            thread_cpu("self", Some(CLIENT_THREADS)),
        )
    };
    let (cpu_before, others_before) = (cpu(), others());
    let started = Instant::now();
    let mut latencies = batch(&http, &send, concurrency, requests).await;
    let elapsed = started.elapsed();
    let cpu_used = cpu().saturating_sub(cpu_before);
    let others_after = others();
    let n = latencies.len() as u32;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Run {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        cpu: cpu_used / n,
        emulator_cpu: others_after.0.saturating_sub(others_before.0) / n,
        client_cpu: others_after.1.saturating_sub(others_before.1) / n,
    }
}

/// `requests` requests from `concurrency` tasks (task `w` sends users `w`,
/// `w + concurrency`, ...), each answered 200 with a token; their latencies.
async fn batch<F, R>(
    http: &reqwest::Client,
    send: &F,
    concurrency: usize,
    requests: usize,
) -> Vec<Duration>
where
    F: Fn(&reqwest::Client, usize) -> R + Clone + Send + 'static,
    R: Future<Output = reqwest::Result<reqwest::Response>> + Send,
{
    let mut workers = tokio::task::JoinSet::new();
    let share = requests / concurrency;
    for worker in 0..concurrency {
        let (http, send) = (http.clone(), send.clone());
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for i in 0..share {
                let t = Instant::now();
                let response = send(&http, worker + i * concurrency)
                    .await
                    .expect("the service answers");
                assert_eq!(response.status(), 200);
                let body = response.bytes().await.expect("a body");
                assert!(body.len() > 100);
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.expect("a worker"));
    }
    latencies
}

// ---------------------------------------------------------------------------
// The split of the service's CPU per request.

/// CPU per call of each part, measured alone.
struct Split {
    verify: Duration,
    store: Duration,
    acs: Duration,
}

fn measure_split(emulators: &Runtime, calls: usize) -> Split {
    let (emulator, issuer) = emulators.block_on(async {
        let emulator = Emulator::builder()
            .start()
            .await
            .expect("the emulator starts");
        let issuer = DevIssuer::start().await.expect("the issuer starts");
        (emulator, issuer)
    });
    let config = config(&emulator, &issuer, false);
    let sign_ins: Arc<Vec<String>> = Arc::new(
        (0..USERS)
            .map(|i| issuer.token("bench", &format!("user-{i}")))
            .collect(),
    );
    let rt = runtime(SERVICE_THREADS);

    let verifier = Arc::new(Verifier::new(&config.oidc));
    let verify = rt.block_on(per_call(calls, {
        let (verifier, sign_ins) = (Arc::clone(&verifier), Arc::clone(&sign_ins));
        move |i| {
            let (verifier, sign_ins) = (Arc::clone(&verifier), Arc::clone(&sign_ins));
            async move {
                let user = verifier
                    .verify(&sign_ins[i % USERS])
                    .await
                    .expect("a valid sign-in");
                assert_eq!(user, format!("user-{}", i % USERS));
            }
        }
    }));

    let store = rt.block_on(async {
        let store = Store::open("sqlite::memory:").await.expect("a store");
        for i in 0..USERS {
            let user = format!("user-{i}");
            assert_eq!(store.claim(&user).await.expect("a claim"), Claim::Won);
            store
                .complete(&user, &format!("8:acs:bench_{i}"))
                .await
                .expect("a mapping");
        }
        store
    });
    let store = rt.block_on(per_call(calls, move |i| {
        let store = store.clone();
        async move {
            let claim = store.claim(&format!("user-{}", i % USERS)).await;
            assert!(matches!(claim, Ok(Claim::Mapped(_))));
        }
    }));

    let scopes: Arc<Vec<TokenScope>> = Arc::new(config.allowed_scopes());
    let (client, users) = rt.block_on(async {
        let client =
            CommunicationIdentityClient::from_connection_string(config.connection_string.expose())
                .expect("a client");
        let mut users = Vec::with_capacity(USERS);
        for _ in 0..USERS {
            users.push(client.create_user().await.expect("create_user"));
        }
        (client, Arc::new(users))
    });
    let acs = rt.block_on(per_call(calls, move |i| {
        let (client, users, scopes) = (client.clone(), Arc::clone(&users), Arc::clone(&scopes));
        async move {
            let user: &CommunicationUserIdentifier = &users[i % USERS];
            client
                .get_token(user, scopes.iter().cloned())
                .await
                .expect("get_token");
        }
    }));

    rt.shutdown_timeout(Duration::from_secs(5));
    drop((emulator, issuer));
    Split { verify, store, acs }
}

/// The `ts-service` threads' CPU per call of `call(i)`, `calls` calls from
/// [`SPLIT_CONCURRENCY`] tasks on the current runtime (after one round to
/// warm up: keys fetched, connections open).
async fn per_call<F, R>(calls: usize, call: F) -> Duration
where
    F: Fn(usize) -> R + Clone + Send + 'static,
    R: Future<Output = ()> + Send + 'static,
{
    for i in 0..USERS {
        call(i).await;
    }
    let before = thread_cpu("self", Some(SERVICE_THREADS));
    let share = calls / SPLIT_CONCURRENCY;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..SPLIT_CONCURRENCY {
        let call = call.clone();
        tasks.spawn(async move {
            for i in 0..share {
                call(task + i * SPLIT_CONCURRENCY).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a task");
    }
    let used = thread_cpu("self", Some(SERVICE_THREADS)).saturating_sub(before);
    used / (share * SPLIT_CONCURRENCY) as u32
}

// ---------------------------------------------------------------------------
// CPU time from /proc.

/// The CPU time of the threads of process `pid` (`self` or a number),
/// those named `name` only when given.
fn thread_cpu(pid: &str, name: Option<&str>) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        let dir = task.path();
        if let Some(name) = name {
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
        }
        total += task_cpu(&dir);
    }
    total
}

/// One thread's CPU time: schedstat's first field (nanoseconds on a CPU),
/// else stat's utime + stime (clock ticks, 100 a second on Linux).
fn task_cpu(dir: &Path) -> Duration {
    if let Some(ns) = std::fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Duration::from_nanos(ns);
    }
    let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
    // The fields after the name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

// ---------------------------------------------------------------------------
// The peer.

/// The peer's dependencies in `dir/node_modules`: installed with `npm ci`
/// from the lock file when missing (not by a quick run, which leaves them
/// to a full one). An error says why the peer is skipped.
fn peer_dependencies(dir: &Path, quick: bool) -> Result<(), String> {
    let installed = dir.join("node_modules/@azure/communication-identity/package.json");
    if installed.exists() {
        return Ok(());
    }
    if quick {
        return Err(format!(
            "not installed; a --quick run leaves `npm ci` in {} to a full run",
            shown(dir)
        ));
    }
    eprintln!(
        "installing the peer's dependencies: npm ci in {}",
        shown(dir)
    );
    let mut npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("npm did not start ({e})"))?;
    let stderr = npm.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        match npm.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            _ => {
                let _ = npm.kill();
                let _ = npm.wait();
                break None;
            }
        }
    };
    let errors = errors.join().unwrap_or_default();
    match status {
        Some(status) if status.success() && installed.exists() => Ok(()),
        Some(status) => Err(format!("npm ci failed ({status}): {}", npm_reason(&errors))),
        None => Err("npm ci took more than 5 minutes".into()),
    }
}

/// The telling line of npm's errors: the error itself (`FetchError: ...`),
/// else its code, else the first line.
fn npm_reason(errors: &str) -> String {
    let lines: Vec<&str> = errors
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("npm error")
                .trim_start_matches("npm ERR!")
                .trim()
        })
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("Error:"))
        .or_else(|| lines.iter().find(|l| l.starts_with("code ")))
        .or(lines.first())
        .unwrap_or(&"no message");
    line.chars().take(200).collect()
}

fn shown(dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.strip_prefix(root.parent().and_then(Path::parent).unwrap_or(root))
        .map_or_else(|_| dir.display().to_string(), |p| p.display().to_string())
}

/// The running peer, killed when dropped (a panic included). It also holds
/// the peer's stdin, which the peer (`--exit-with-stdin`) watches: if this
/// process dies without dropping it, the pipe closes and the peer exits.
struct Peer {
    child: Child,
    _stdin: Option<std::process::ChildStdin>,
    url: String,
}

impl Peer {
    fn start(dir: &Path, connection_string: &str) -> Result<Self, String> {
        let script: PathBuf = dir.join("server.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(connection_string)
            .arg("--exit-with-stdin")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("node did not start ({e})"))?;
        let stdout = child.stdout.take().expect("piped");
        // From here on the guard kills it, whatever happens.
        let mut peer = Peer {
            _stdin: child.stdin.take(),
            child,
            url: String::new(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("http://") => {
                peer.url = line.trim().to_string();
                Ok(peer)
            }
            Ok(line) => Err(format!("the peer printed {:?}, not its URL", line.trim())),
            Err(_) => Err("the peer did not print its URL within 30 s".into()),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The tables.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn find(rows: &[Row], who: Who, concurrency: usize) -> Option<&Run> {
    rows.iter()
        .find(|r| r.who == who && r.concurrency == concurrency)
        .and_then(|r| r.run.as_ref().ok())
}

fn print_rows(rows: &[Row]) {
    println!(
        "| service | cache | concurrency | tokens/s | p50 (ms) | p99 (ms) | CPU/request (µs) | × peer | emulator, client CPU/request (µs) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let (who, cache) = match row.who {
            Who::Service { cached } => ("ours", if cached { "on" } else { "off" }),
            Who::Peer => (PEER, "none"),
        };
        match &row.run {
            Ok(run) => {
                let ratio = find(rows, Who::Peer, row.concurrency)
                    .map_or("–".to_string(), |peer| {
                        format!("{:.1}", run.per_second / peer.per_second)
                    });
                println!(
                    "| {who} | {cache} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {ratio} | {:.0}, {:.0} |",
                    row.concurrency,
                    run.per_second,
                    ms(run.p50),
                    ms(run.p99),
                    us(run.cpu),
                    us(run.emulator_cpu),
                    us(run.client_cpu),
                );
            }
            Err(why) => println!(
                "| {who} | {cache} | {} | skipped: {why} | | | | | |",
                row.concurrency
            ),
        }
    }
}

fn print_split(split: &Split, rows: &[Row]) {
    let at = SPLIT_CONCURRENCY;
    println!(
        "Service CPU per request, split (µs; the parts measured alone, {at} at a time; the rest is the row's total minus the parts)\n"
    );
    println!("| part | cache off, {at} | cache on, {at} |");
    println!("|---|---:|---:|");
    let off = find(rows, Who::Service { cached: false }, at).map(|r| r.cpu);
    let on = find(rows, Who::Service { cached: true }, at).map(|r| r.cpu);
    let cell = |d: Option<Duration>| d.map_or("–".to_string(), |d| format!("{:.0}", us(d)));
    println!(
        "| sign-in verification | {} | {} |",
        cell(Some(split.verify)),
        cell(Some(split.verify))
    );
    // A known user's mapping is answered from the service's memory: the
    // store is reached on a user's first request only.
    println!("| store (a known user: the in-memory mapping, no store call) | 0 | – |");
    println!(
        "| ACS call (client side of get_token) | {} | – |",
        cell(Some(split.acs))
    );
    // Signed: a negative rest says the parts cost more alone than in the service.
    let rest = |total: Option<Duration>, parts: Duration| {
        total.map_or("–".to_string(), |t| format!("{:.0}", us(t) - us(parts)))
    };
    println!(
        "| the rest (HTTP, routing, JSON, cache, metrics) | {} | {} |",
        rest(off, split.verify + split.acs),
        rest(on, split.verify)
    );
    println!(
        "| total (the row's CPU/request) | {} | {} |",
        cell(off),
        cell(on)
    );
    println!(
        "\nA store claim alone (a user's first request, or a mapping no longer in memory): {:.0} µs\n",
        us(split.store)
    );
}

/// The targets of issue 24, as this run measured them.
fn print_targets(rows: &[Row]) {
    let tps = |who, c| find(rows, who, c).map(|r| r.per_second);
    let (off, on) = (
        Who::Service { cached: false },
        Who::Service { cached: true },
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("Targets (issue 24), in this run:");
    match (tps(off, 8), tps(Who::Peer, 8)) {
        (Some(ours), Some(peer)) => println!(
            "- fresh token, concurrency 8, at least 4x the peer: {:.1}x, {}",
            ours / peer,
            verdict(ours >= 4.0 * peer)
        ),
        _ => println!("- fresh token, concurrency 8, at least 4x the peer: no peer figures"),
    }
    if let (Some(at8), Some(at64)) = (tps(off, 8), tps(off, 64)) {
        println!(
            "- fresh token, concurrency 64 at least concurrency 8: {:.2}x, {}",
            at64 / at8,
            verdict(at64 >= at8)
        );
    }
    match (tps(on, 8), tps(Who::Peer, 8)) {
        (Some(ours), Some(peer)) => println!(
            "- cache on, concurrency 8, at least 10x the peer: {:.1}x, {}",
            ours / peer,
            verdict(ours >= 10.0 * peer)
        ),
        _ => println!("- cache on, concurrency 8, at least 10x the peer: no peer figures"),
    }
}
