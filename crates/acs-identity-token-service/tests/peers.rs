//! Slow, idle, stalled and hostile peers on both sides of the service: its
//! callers (heads, bodies, idle connections, floods of silent connections,
//! shutdown) and Communication Services (slow answers, long `Retry-After`),
//! and readiness probes in bulk. Loopback only; every wait is bounded.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acs_identity_emulator::Emulator;
use acs_identity_token_service::DevIssuer;
use common::{AUDIENCE, Setup, client, config_text, exit_within, json, sigterm};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity-token-service");

/// The slack allowed past a timeout on a shared, loaded machine.
const SLACK: Duration = Duration::from_secs(4);

/// Reads until the server closes the connection (or `limit` passes); what it
/// sent and when it closed.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&seen).into_owned(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), None),
        }
    }
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn half_sent_heads_silent_and_idle_connections_are_closed_within_the_header_timeout() {
    let setup = Setup::new("[server]\nheader_timeout_seconds = 1", "").await;
    let addr = addr(&setup.url);
    let limit = Duration::from_secs(1) + SLACK;

    // Half a head.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .await
        .unwrap();
    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // A keep-alive connection left idle after one answer.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();

    let (_, closed) = read_to_close(&mut half, limit).await;
    assert!(closed.is_some(), "a half-sent head was kept open");
    let (_, closed) = read_to_close(&mut silent, limit).await;
    assert!(closed.is_some(), "a silent connection was kept open");
    let (seen, closed) = read_to_close(&mut idle, limit).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        closed.is_some(),
        "an idle keep-alive connection was kept open"
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_within_the_body_timeout() {
    let setup = Setup::new("[server]\nbody_timeout_seconds = 1", "").await;
    let mut stream = TcpStream::connect(addr(&setup.url)).await.unwrap();
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"scopes\":",
        setup.sign_in("alice")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (seen, _) = read_to_close(&mut stream, Duration::from_secs(1) + SLACK).await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen:?}");
    assert!(seen.contains("RequestTimeout"), "{seen}");
    assert!(started.elapsed() < Duration::from_secs(1) + SLACK);
    assert!(
        setup.emulator.identities().is_empty(),
        "nothing was created"
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_slow_acs_ends_the_request_within_its_deadline_with_retry_after() {
    let setup = Setup::new("[server]\nrequest_deadline_seconds = 2", "").await;
    setup.emulator.set_faults("latency=60s".parse().unwrap());
    let started = Instant::now();
    let response = setup.token("alice", json!({})).await;
    let took = started.elapsed();
    let retry_after = response.headers().get("retry-after").cloned();
    let body = json(response, 503).await;
    assert!(
        took < Duration::from_secs(2) + Duration::from_secs(1),
        "{took:?}"
    );
    assert!(retry_after.is_some(), "{body}");
    assert!(
        ["UpstreamUnavailable", "DeadlineExceeded"]
            .contains(&body["error"]["code"].as_str().unwrap()),
        "{body}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_retry_after_longer_than_the_deadline_is_passed_on_at_once() {
    let setup = Setup::new("", "").await;
    setup
        .emulator
        .set_faults("429/retry-after=20".parse().unwrap());
    let started = Instant::now();
    let response = setup.token("alice", json!({})).await;
    let took = started.elapsed();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("20")
    );
    let body = json(response, 503).await;
    assert_eq!(body["error"]["code"], "UpstreamBusy");
    assert!(took < Duration::from_secs(2), "it waited {took:?}");
    // Once ACS answers again, so does the service.
    setup.emulator.set_faults("".parse().unwrap());
    json(setup.token("alice", json!({})).await, 200).await;
    setup.stop().await;
}

#[tokio::test]
async fn many_concurrent_readiness_calls_cost_one_acs_request() {
    let setup = Setup::new("", "").await;
    let calls = (0..200).map(|_| {
        let (http, url) = (setup.http.clone(), setup.url.clone());
        tokio::spawn(async move { http.get(format!("{url}/readyz")).send().await.unwrap() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap().status(), 200);
    }
    let probes = setup.emulator.stats().requests;
    assert_eq!(probes, 1, "200 readiness calls made {probes} ACS requests");
    setup.stop().await;
}

#[tokio::test]
async fn user_claims_the_store_cannot_hold_are_refused_with_401() {
    let setup = Setup::new("", "").await;
    for user in [
        "nul\0inside".to_string(),
        "bell\u{7}".into(),
        "x".repeat(257),
    ] {
        let response = setup.post("/token", Some(&setup.sign_in(&user))).await;
        let body = json(response, 401).await;
        assert_eq!(body["error"]["code"], "InvalidToken", "{body}");
    }
    assert!(setup.emulator.identities().is_empty());
    assert!(
        setup.service.metrics().contains("reason=\"user\""),
        "{}",
        setup.service.metrics()
    );
    setup.stop().await;
}

/// The command under `bash -c PREFIX exec BIN --config FILE`; the URL it
/// prints.
fn spawn(prefix: &str, config: &str) -> (std::process::Child, String) {
    let dir = std::env::temp_dir().join(format!(
        "acs-ts-peers-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!("{prefix} exec '{BIN}' --config '{}'", path.display()),
        ])
        .env_remove("ACS_CONNECTION_STRING")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("http://"), "{url:?}");
    (child, url.trim().to_string())
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// User plus system CPU ticks of `pid` (Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_descriptor_limit_silent_connections_never_starve_callers() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let text = config_text(
        &emulator,
        &issuer,
        "listen = \"127.0.0.1:0\"\n[server]\nheader_timeout_seconds = 2",
        "",
    );
    let (mut child, url) = spawn("ulimit -n 256;", &text);
    let addr = addr(&url);
    // More silent connections than the process has descriptors.
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let pid = child.id();
    let before = cpu_ticks(pid);
    let window = Instant::now();
    // A measurement window, not synchronisation.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let used = cpu_ticks(pid) - before;
    let ticks = window.elapsed().as_millis() as u64 / 10;
    assert!(
        used * 4 < ticks,
        "the service used {used} of {ticks} ticks while flooded"
    );
    // A real caller is answered while the silent connections are still
    // open on the client's side: the service closes them.
    let started = Instant::now();
    let answer = client()
        .post(format!("{url}/token"))
        .bearer_auth(issuer.token(AUDIENCE, "alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(silent);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_requests_in_flight_finish_and_stalled_clients_do_not_hold_the_exit() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let text = config_text(
        &emulator,
        &issuer,
        "listen = \"127.0.0.1:0\"\n[server]\nheader_timeout_seconds = 60\nshutdown_grace_seconds = 3",
        "",
    );
    let (mut child, url) = spawn("", &text);
    // Warm the issuer's keys, so the slow request below is slow only at ACS.
    let warm = client().get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(warm.status(), 200);
    // A client stalled in its head, which would hold the exit for a minute.
    let mut stalled = TcpStream::connect(addr(&url)).await.unwrap();
    stalled
        .write_all(b"POST /token HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // A request in flight at ACS for 1.5 s.
    emulator.set_faults("latency=1500ms".parse().unwrap());
    let in_flight = {
        let (url, token) = (url.clone(), issuer.token(AUDIENCE, "alice"));
        tokio::spawn(async move {
            client()
                .post(format!("{url}/token"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // Until the request has reached ACS (the emulator counts a request as
    // it arrives, before its latency).
    let started = Instant::now();
    while emulator.stats().requests < 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let term = Instant::now();
    sigterm(&child);
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the request in flight finished"
    );
    let status = exit_within(&mut child, Duration::from_secs(3) + SLACK).await;
    assert!(status.success(), "{status}");
    assert!(term.elapsed() < Duration::from_secs(3) + SLACK);
    drop(stalled);
}

#[test]
fn a_key_refresh_interval_below_the_floor_is_a_usage_error() {
    let text = "connection_string = \"endpoint=http://127.0.0.1:1/;accesskey=a2V5\"\n\
                [oidc]\nissuer = \"https://issuer.example/\"\naudience = \"app\"\n\
                jwks_refresh_seconds = 0\n";
    let dir = std::env::temp_dir().join(format!("acs-ts-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("ACS_CONNECTION_STRING")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("oidc.jwks_refresh_seconds"), "{stderr}");
    assert!(!stderr.contains("a2V5"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_mid_creation_cut_off_users_are_served_within_20_s_and_orphans_counted() {
    const USERS: usize = 8;
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("acs-ts-crash-{}", fastrand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = format!("store = \"sqlite:{}\"", dir.join("map.db").display());
    let text = config_text(
        &emulator,
        &issuer,
        &format!("listen = \"127.0.0.1:0\"\n{store}"),
        "",
    );
    let (mut first, url) = spawn("", &text);
    // Every creation is slow: the kill comes while all are at ACS.
    emulator.set_faults("latency=3s".parse().unwrap());
    let sign_ins: Vec<String> = (0..USERS)
        .map(|i| issuer.token(AUDIENCE, &format!("user-{i}")))
        .collect();
    let mut cut_off = Vec::new();
    for sign_in in &sign_ins {
        let (url, sign_in) = (url.clone(), sign_in.clone());
        cut_off.push(tokio::spawn(async move {
            let _ = client()
                .post(format!("{url}/token"))
                .bearer_auth(sign_in)
                .send()
                .await;
        }));
    }
    let started = Instant::now();
    while emulator.stats().requests < USERS as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the creations did not reach ACS"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    for task in cut_off {
        let _ = task.await;
    }
    emulator.set_faults("".parse().unwrap());

    let (mut second, url) = spawn("", &text);
    let restarted = Instant::now();
    for sign_in in &sign_ins {
        loop {
            let response = client()
                .post(format!("{url}/token"))
                .bearer_auth(sign_in)
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                break;
            }
            assert_eq!(response.status(), 503, "only Busy while the claim is fresh");
            assert!(
                restarted.elapsed() < Duration::from_secs(20),
                "a cut-off user was not served within 20 s of the restart"
            );
            // Polling the service, as a client honouring Retry-After would.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    assert!(restarted.elapsed() < Duration::from_secs(20));
    let metrics = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let orphaned: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("acs_token_service_identities_possibly_orphaned_total "))
        .expect("the counter is exported")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(orphaned, USERS as u64, "{metrics}");
    // What was really orphaned is within what was counted: the first
    // instance's creations finished at ACS after it died.
    let identities = emulator.identities().len();
    assert!(identities <= 2 * USERS, "{identities} identities");
    let _ = second.kill();
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
