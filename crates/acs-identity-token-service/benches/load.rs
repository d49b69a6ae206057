//! Tokens per second through the token service against the in-process
//! emulator, at concurrency 8 and 64, with the cache on (a fresh token is
//! answered from memory after the sign-in token is verified) and off (each
//! request also maps the user in SQLite and asks the emulator for a token).
//!
//! ```sh
//! cargo bench -p acs-identity-token-service --bench load            # the table
//! cargo bench -p acs-identity-token-service --bench load -- --quick # a tenth of the requests
//! cargo xtask bench --token-service                                 # the same
//! ```
//!
//! Everything runs in one process on the same cores: the load client, the
//! service and the emulator share the machine, so the figures are what the
//! three together reach, a lower bound for the service alone.

use std::time::{Duration, Instant};

use acs_identity_emulator::Emulator;
use acs_identity_token_service::{Config, DevIssuer, TokenService};

/// Distinct app users the load cycles through.
const USERS: usize = 64;

struct Row {
    concurrency: usize,
    cached: bool,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let requests = if quick { 2_000 } else { 20_000 };
    let mut rows = Vec::new();
    for cached in [true, false] {
        for concurrency in [8, 64] {
            rows.push(measure(cached, concurrency, requests).await);
        }
    }
    println!(
        "\nToken service load ({requests} requests each; {} cores; service, emulator and client in one process)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| cache | concurrency | tokens/s | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} |",
            if row.cached { "on" } else { "off" },
            row.concurrency,
            row.per_second,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
        );
    }
}

async fn measure(cached: bool, concurrency: usize, requests: usize) -> Row {
    let emulator = Emulator::builder()
        .start()
        .await
        .expect("the emulator starts");
    let issuer = DevIssuer::start().await.expect("the issuer starts");
    let config = Config::from_toml(&format!(
        "connection_string = {:?}\nstore = \"sqlite::memory:\"\n\
         [oidc]\nissuer = {:?}\naudience = \"bench\"\n\
         [tokens]\ncache = {cached}\nrate_limit_per_minute = 0\n",
        emulator.connection_string(),
        issuer.issuer(),
    ))
    .expect("a valid configuration");
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
    tokio::spawn(service.serve(listener, std::future::pending()));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let sign_ins: Vec<String> = (0..USERS)
        .map(|i| issuer.token("bench", &format!("user-{i}")))
        .collect();
    // Warm up: every user mapped (and, with the cache, holding a token).
    for sign_in in &sign_ins {
        let status = http
            .post(&url)
            .bearer_auth(sign_in)
            .send()
            .await
            .expect("the service answers")
            .status();
        assert_eq!(status, 200);
    }

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (http, url, sign_ins) = (http.clone(), url.clone(), sign_ins.clone());
        let share = requests / concurrency;
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for i in 0..share {
                let sign_in = &sign_ins[(worker + i * concurrency) % USERS];
                let t = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(sign_in)
                    .send()
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
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Row {
        concurrency,
        cached,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}
