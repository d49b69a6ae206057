//! Load benchmark: token issuance against the emulator, over loopback.
//!
//! `cargo bench -p acs-identity --bench load` (or `cargo xtask bench`).
//!
//! The emulator runs in a child process (this same binary, started again
//! with `--emulator-child`), so its CPU time is read on its own from
//! `/proc/<pid>/stat` and the load generator's from `/proc/self/stat`. Both
//! share the machine's cores.
//!
//! For each concurrency (1, 8, 64) it runs 60 pairs of batches: each pair is
//! one batch of `get_token` calls through (a) and one through (b), back to
//! back, in alternating order (a b, b a, …), with
//!
//! - (a) `acs-identity`: `CommunicationIdentityClient` with default options
//!   (3 retries, so each call keeps a copy of its request; 30 s per try);
//! - (b) bare reqwest: the same method, URL, headers and body, signed here
//!   by a few lines independent of the crate's signer, with the same key,
//!   the response read and its JSON decoded. The floor.
//!
//! Both use one `reqwest::Client`, so one connection pool. Each request's
//! latency is taken from just before the call to just after its result. A
//! shared machine changes speed over seconds, so the ratio a/b is taken per
//! pair (two batches a fraction of a second apart see the same machine) and
//! the table gives the median over the pairs with its interquartile range;
//! the p50 difference is likewise the median of the pairs' differences. The
//! pooled figures (all requests of a client together) are printed beside
//! them. The table also gives p99, client-side CPU per request, and the
//! emulator's requests per second and CPU seconds per 1,000 requests.
//!
//! Options: `--profile-label NAME` (the build profile, printed above the
//! table), `--quick` (a tenth of the requests), `--requests-scale X`,
//! `--memory [N]` (instead: issue N tokens, default 1,000,000, and report the
//! emulator's resident memory along the way); for profiling one side,
//! `--only a|b` and `--concurrency N` limit the run to that client and
//! concurrency; `--verbose` prints every batch; `--bare-timeout` gives (b)
//! the same 30 s per-request timeout that (a) has by default, to see what
//! that timer costs.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use acs_identity::{
    AccessKey, CommunicationIdentityClient, CommunicationUserIdentifier, TokenScope,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const API_VERSION: &str = "2025-06-30";
/// What the client sends for `get_token(user, [TokenScope::Chat])`.
const BODY: &[u8] = br#"{"scopes":["chat"]}"#;
const CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Pairs of batches per concurrency: each pair is one batch of (a) and one
/// of (b), back to back, in alternating order (a b, b a, …). A shared
/// machine changes speed over seconds, so short pairs see the same machine
/// and their ratio is compared, not the sums of long runs.
const PAIRS: usize = 60;
/// The longest one batch may take.
const BATCH_LIMIT: Duration = Duration::from_secs(60);
/// After this long, no further rounds start (the run stays under 3 minutes).
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Linux reports `/proc` times in units of USER_HZ, which is 100.
const TICKS_PER_SECOND: f64 = 100.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--emulator-child") {
        emulator_child(&args);
        return;
    }
    let scale = if args.iter().any(|a| a == "--quick") {
        0.1
    } else {
        value_after(&args, "--requests-scale")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.0)
    };
    let memory = args.iter().position(|a| a == "--memory").map(|i| {
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    });

    let only = match value_after(&args, "--only") {
        Some("a") => Some(Impl::Client),
        Some("b") => Some(Impl::Bare),
        _ => None,
    };
    let concurrency: Vec<usize> = match value_after(&args, "--concurrency") {
        Some(c) => vec![c.parse().expect("--concurrency N")],
        None => CONCURRENCY.to_vec(),
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    let profile = value_after(&args, "--profile-label")
        .unwrap_or("bench")
        .to_owned();
    let bare_timeout = args
        .iter()
        .any(|a| a == "--bare-timeout")
        .then_some(Duration::from_secs(30));
    if memory.is_none() {
        println!(
            "\n### Build profile: {profile}{}",
            match profile.as_str() {
                "release" => " (what `cargo build --release` gives a user)",
                "bench" => " (fat LTO, one codegen unit)",
                _ => "",
            }
        );
    }
    let key = STANDARD.encode((0..64).map(|_| fastrand::u8(..)).collect::<Vec<u8>>());
    let emulator = ChildEmulator::start(&key);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let setup = Arc::new(Setup::new(&emulator, &key, bare_timeout).await);
        match memory {
            Some(tokens) => memory_run(&setup, &emulator, tokens).await,
            None => load_run(&setup, &emulator, scale, only, &concurrency, verbose).await,
        }
    });
    emulator.stop();
}

fn value_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

// ---------------------------------------------------------------------------
// The emulator, in a child process.

/// Child mode: serve on 127.0.0.1 with the given key, print the port, and
/// serve until stdin closes.
fn emulator_child(args: &[String]) {
    let key = value_after(args, "--key").expect("--key").to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        // Its own thread name, so profiles tell the two processes apart.
        .thread_name("emulator")
        .enable_all()
        .build()
        .expect("a runtime");
    let emulator = rt.block_on(async {
        acs_identity_emulator::Emulator::builder()
            .access_key(key)
            .start()
            .await
            .expect("the emulator starts")
    });
    println!("{}", emulator.addr().port());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    rt.block_on(emulator.shutdown());
}

struct ChildEmulator {
    child: Child,
    port: u16,
}

impl ChildEmulator {
    fn start(key: &str) -> Self {
        let exe = std::env::current_exe().expect("this binary");
        let mut child = Command::new(exe)
            .args(["--emulator-child", "--key", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator process starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the emulator prints its port");
        let port = line.trim().parse().expect("a port");
        Self { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// User plus system CPU seconds of a process, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / TICKS_PER_SECOND
}

/// Resident memory of a process in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

// ---------------------------------------------------------------------------
// The two clients.

/// The bare baseline: reqwest and a few lines of signing.
struct Bare {
    http: reqwest::Client,
    base: String,
    host: String,
    key: Vec<u8>,
    user_agent: String,
    /// `--bare-timeout`: the same per-request timeout as (a)'s default.
    timeout: Option<Duration>,
}

#[derive(serde::Deserialize)]
struct Token {
    token: String,
    #[serde(rename = "expiresOn")]
    expires_on: String,
}

impl Bare {
    async fn get_token(&self, user: &str) -> Result<Token, String> {
        let target = format!("/identities/{user}/:issueAccessToken?api-version={API_VERSION}");
        let date = httpdate::fmt_http_date(SystemTime::now());
        let hash = STANDARD.encode(Sha256::digest(BODY));
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("POST\n{target}\n{date};{};{hash}", self.host).as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let mut request = self.http.post(format!("{}{target}", self.base));
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .header("x-ms-client-request-id", request_id())
            .header("x-ms-return-client-request-id", "true")
            .header("user-agent", &self.user_agent)
            .header("x-ms-date", date)
            .header("x-ms-content-sha256", hash)
            .header(
                "authorization",
                format!(
                    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
                ),
            )
            .body(BODY)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

/// A random version 4 UUID, the cheapest way: no system call.
fn request_id() -> String {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string()
}

/// Everything a run needs.
struct Setup {
    client: CommunicationIdentityClient,
    bare: Bare,
    users: Vec<CommunicationUserIdentifier>,
}

impl Setup {
    async fn new(emulator: &ChildEmulator, key: &str, bare_timeout: Option<Duration>) -> Self {
        let endpoint = format!("http://127.0.0.1:{}/", emulator.port);
        // One connection pool for both: the client gets this reqwest client.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client");
        // The client as a user gets it: default retry options and per-try
        // timeout (so every call keeps a copy of its request for a retry).
        let client = CommunicationIdentityClient::builder(&endpoint)
            .access_key(AccessKey::new(key).expect("a key"))
            .http_client(http.clone())
            .build()
            .expect("a client");
        let bare = Bare {
            http,
            base: endpoint.trim_end_matches('/').to_string(),
            host: format!("127.0.0.1:{}", emulator.port),
            key: STANDARD.decode(key).expect("base64"),
            user_agent: format!(
                "azsdk-rust-communication-identity/{} (bare baseline; {}; {})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            timeout: bare_timeout,
        };
        let mut users = Vec::new();
        for _ in 0..64 {
            users.push(client.create_user().await.expect("create_user"));
        }
        // Both clients get valid tokens from the emulator before anything is timed.
        let a = client
            .get_token(&users[0], [TokenScope::Chat])
            .await
            .expect("get_token");
        let b = bare.get_token(users[0].id()).await.expect("bare get_token");
        assert!(!a.token().is_empty() && !b.token.is_empty() && !b.expires_on.is_empty());
        Self {
            client,
            bare,
            users,
        }
    }
}

// ---------------------------------------------------------------------------
// Measuring.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Client,
    Bare,
}

/// One timed batch: latencies in nanoseconds and the wall time.
struct Batch {
    latencies: Vec<u64>,
    elapsed: Duration,
}

/// Sends `requests` get_token calls from `concurrency` tasks, user i from task i.
async fn batch(setup: &Arc<Setup>, which: Impl, concurrency: usize, requests: usize) -> Batch {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..concurrency {
        let setup = Arc::clone(setup);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let user = &setup.users[task % setup.users.len()];
            let mut latencies = Vec::with_capacity(requests / concurrency + 1);
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                match which {
                    Impl::Client => {
                        let token = setup
                            .client
                            .get_token(user, [TokenScope::Chat])
                            .await
                            .expect("get_token");
                        std::hint::black_box(token);
                    }
                    Impl::Bare => {
                        let token = setup
                            .bare
                            .get_token(user.id())
                            .await
                            .expect("bare get_token");
                        std::hint::black_box(token);
                    }
                }
                latencies.push(t.elapsed().as_nanos() as u64);
            }
            latencies
        }));
    }
    // One guard for the whole batch (not a timer per request, which would
    // add to what is measured): a stuck request ends the run.
    let joined = tokio::time::timeout(BATCH_LIMIT, async {
        let mut latencies = Vec::with_capacity(requests);
        for task in tasks {
            latencies.extend(task.await.expect("a load task"));
        }
        latencies
    });
    let latencies = joined
        .await
        .unwrap_or_else(|_| panic!("a batch of {requests} requests took over {BATCH_LIMIT:?}"));
    Batch {
        latencies,
        elapsed: started.elapsed(),
    }
}

/// What one client did at one concurrency, over all rounds.
#[derive(Default)]
struct Cell {
    latencies: Vec<u64>,
    elapsed: Duration,
    emulator_cpu: f64,
    generator_cpu: f64,
    /// Per batch, in order: throughput (req/s) and p50 (µs).
    batches: Vec<(f64, f64)>,
}

impl Cell {
    fn add(&mut self, mut b: Batch, emulator_cpu: f64, generator_cpu: f64) {
        let throughput = b.latencies.len() as f64 / b.elapsed.as_secs_f64();
        b.latencies.sort_unstable();
        let p50 = b.latencies[(b.latencies.len() - 1) / 2] as f64 / 1000.0;
        self.batches.push((throughput, p50));
        self.latencies.extend(b.latencies);
        self.elapsed += b.elapsed;
        self.emulator_cpu += emulator_cpu;
        self.generator_cpu += generator_cpu;
    }

    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-quantile in microseconds (nearest rank).
    fn percentile_us(&mut self, p: f64) -> f64 {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1] as f64 / 1000.0
    }

    /// CPU seconds per 1,000 requests.
    fn per_thousand(&self, cpu: f64) -> f64 {
        cpu * 1000.0 / self.latencies.len() as f64
    }
}

async fn load_run(
    setup: &Arc<Setup>,
    emulator: &ChildEmulator,
    scale: f64,
    only: Option<Impl>,
    concurrencies: &[usize],
    verbose: bool,
) {
    let pid = emulator.pid().to_string();
    let started = Instant::now();
    let mut rows = Vec::new();
    for &concurrency in concurrencies {
        let per_batch = ((if concurrency == 1 { 1_000.0 } else { 2_000.0 }) * scale) as usize;
        let per_batch = per_batch.max(concurrency * 10);
        // Warm up: connections for this concurrency, caches, allocator.
        let both = [Impl::Client, Impl::Bare];
        let wanted = |w: &Impl| only.is_none_or(|o| o == *w);
        for which in both.into_iter().filter(wanted) {
            batch(setup, which, concurrency, per_batch).await;
        }
        let (mut a, mut b) = (Cell::default(), Cell::default());
        for pair in 0..PAIRS {
            if started.elapsed() > RUN_LIMIT && pair > 0 {
                println!("(time limit: concurrency {concurrency} stopped after {pair} pairs)");
                break;
            }
            let order = if pair % 2 == 0 {
                [Impl::Client, Impl::Bare]
            } else {
                [Impl::Bare, Impl::Client]
            };
            for which in order.into_iter().filter(wanted) {
                let (e0, g0) = (cpu_seconds(&pid), cpu_seconds("self"));
                let result = batch(setup, which, concurrency, per_batch).await;
                let (e1, g1) = (cpu_seconds(&pid), cpu_seconds("self"));
                let cell = if which == Impl::Client {
                    &mut a
                } else {
                    &mut b
                };
                cell.add(result, e1 - e0, g1 - g0);
                if verbose && let Some((throughput, p50)) = cell.batches.last() {
                    println!(
                        "concurrency {concurrency}, pair {pair}, {which:?}: {throughput:.0} req/s, p50 {p50:.0} µs"
                    );
                }
            }
        }
        rows.push((concurrency, a, b));
    }
    if let Some(which) = only {
        for (concurrency, a, b) in &mut rows {
            let cell = if a.latencies.is_empty() { b } else { a };
            println!(
                "concurrency {concurrency}, {which:?} only: {:.0} req/s, p50 {:.0} µs, generator CPU {:.3} s / 1,000 req",
                cell.throughput(),
                cell.percentile_us(0.5),
                cell.per_thousand(cell.generator_cpu)
            );
        }
        return;
    }
    let wall = started.elapsed();

    let stats: serde_json::Value = setup
        .bare
        .http
        .get(format!("{}/_emulator/stats", setup.bare.base))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    print_table(&mut rows, &stats, wall);
}

fn print_table(rows: &mut [(usize, Cell, Cell)], stats: &serde_json::Value, wall: Duration) {
    let mut out = String::new();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let _ = writeln!(
        out,
        "\nMachine: {} cores ({model}); emulator in a child process; loopback; {PAIRS} pairs of batches per concurrency, alternating order.",
        cores()
    );
    let _ = writeln!(
        out,
        "\n| concurrency | client | requests | throughput (req/s) | p50 (µs) | p99 (µs) | a/b throughput, paired (median, IQR) | a/b throughput, pooled | p50 a−b, paired median (µs) | client-side CPU s / 1,000 req |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut verdicts = Vec::new();
    for (concurrency, a, b) in rows.iter_mut() {
        let (ta, tb) = (a.throughput(), b.throughput());
        let (a50, a99) = (a.percentile_us(0.50), a.percentile_us(0.99));
        let (b50, b99) = (b.percentile_us(0.50), b.percentile_us(0.99));
        // Pair i is a.batches[i] with b.batches[i], measured back to back.
        let pairs = a.batches.iter().zip(&b.batches);
        let ratios: Vec<f64> = pairs.clone().map(|(x, y)| x.0 / y.0).collect();
        let p50_gaps: Vec<f64> = pairs.map(|(x, y)| x.1 - y.1).collect();
        let (ratio, ratio_q1, ratio_q3) = (
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
        );
        let gap = quantile(&p50_gaps, 0.5);
        let _ = writeln!(
            out,
            "| {concurrency} | (a) acs-identity | {} | {ta:.0} | {a50:.0} | {a99:.0} | {ratio:.3} ({ratio_q1:.3}–{ratio_q3:.3}) | {:.3} | {gap:+.1} | {:.3} |",
            a.latencies.len(),
            ta / tb,
            a.per_thousand(a.generator_cpu),
        );
        let _ = writeln!(
            out,
            "| {concurrency} | (b) bare reqwest | {} | {tb:.0} | {b50:.0} | {b99:.0} | | | | {:.3} |",
            b.latencies.len(),
            b.per_thousand(b.generator_cpu),
        );
        verdicts.push(format!(
            "- concurrency {concurrency}: throughput a/b {ratio:.3} (target ≥ 0.95: {}), p50 a−b {gap:+.1} µs (target ≤ +20: {})",
            if ratio >= 0.95 { "met" } else { "MISSED" },
            if gap <= 20.0 { "met" } else { "MISSED" },
        ));
    }

    let _ = writeln!(
        out,
        "\n| concurrency | emulator req/s (best of a, b) | emulator CPU s / 1,000 req | emulator CPU-bound capacity on {} cores (req/s) |",
        cores()
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|");
    for (concurrency, a, b) in rows.iter() {
        let requests = (a.latencies.len() + b.latencies.len()) as f64;
        let cpu = (a.emulator_cpu + b.emulator_cpu) * 1000.0 / requests;
        let best = a.throughput().max(b.throughput());
        let _ = writeln!(
            out,
            "| {concurrency} | {best:.0} | {cpu:.4} | {:.0} |",
            cores() as f64 * 1000.0 / cpu
        );
        if *concurrency == 64 {
            verdicts.push(format!(
                "- emulator at concurrency 64, sharing the cores with the load generator: {best:.0} tokens/s (target ≥ 20,000: {})",
                if best >= 20_000.0 { "met" } else { "MISSED" }
            ));
        }
    }
    let _ = writeln!(out, "\nTargets:");
    for v in verdicts {
        let _ = writeln!(out, "{v}");
    }
    let _ = writeln!(
        out,
        "\nEmulator counters: {} requests, {} tokens issued, {} refused; timed part {:.1} s.",
        stats["requests"],
        stats["tokensIssued"],
        stats["unauthorized"],
        wall.as_secs_f64()
    );
    print!("{out}");
}

/// The `p`-quantile of `values` (linear between the nearest ranks).
fn quantile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = p * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

// ---------------------------------------------------------------------------
// Memory over many tokens.

async fn memory_run(setup: &Arc<Setup>, emulator: &ChildEmulator, tokens: usize) {
    let pid = emulator.pid().to_string();
    let limit = RUN_LIMIT;
    let step = (tokens / 10).max(1);
    let started = Instant::now();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| tokens issued (acs-identity, concurrency 64) | emulator RSS (KiB) | load generator RSS (KiB) | elapsed (s) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|");
    let row = |out: &mut String, issued: usize| {
        let _ = writeln!(
            out,
            "| {issued} | {} | {} | {:.1} |",
            rss_kib(&pid),
            rss_kib("self"),
            started.elapsed().as_secs_f64()
        );
    };
    row(&mut out, 0);
    let mut issued = 0;
    let mut first = None;
    while issued < tokens && started.elapsed() < limit {
        let n = step.min(tokens - issued);
        batch(setup, Impl::Client, 64, n).await;
        issued += n;
        if first.is_none() {
            first = Some(rss_kib(&pid));
        }
        row(&mut out, issued);
    }
    let last = rss_kib(&pid);
    let first = first.unwrap_or(last);
    let _ = writeln!(
        out,
        "\nEmulator RSS after the first {step} tokens: {first} KiB; after {issued}: {last} KiB ({:+} KiB, {:+.2} bytes per token after the first step).",
        last as i64 - first as i64,
        (last as f64 - first as f64) * 1024.0 / (issued.saturating_sub(step)).max(1) as f64
    );
    if issued < tokens {
        let _ = writeln!(
            out,
            "Stopped at the time limit ({limit:?}) after {issued} tokens."
        );
    }
    print!("{out}");
}
