//! Several instances on one store racing on a user's first request: exactly
//! one ACS identity, whatever instance each request reaches.

mod common;

use acs_identity_emulator::Emulator;
use acs_identity_token_service::{Config, DevIssuer, TokenService};
use common::{AUDIENCE, client, config_text, serve};

/// Requests for one new user, spread over the instances.
const REQUESTS: usize = 32;

/// Two instances on `store`, `REQUESTS` concurrent first requests for one
/// user: every answer names the same identity and the emulator holds one.
async fn race(store: &str) {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let text = config_text(
        &emulator,
        &issuer,
        &format!("store = {store:?}"),
        "cache = false",
    );
    let config = Config::from_toml(&text).unwrap();
    let mut urls = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let service = TokenService::new(&config).await.unwrap();
        let (url, stop, served) = serve(&service).await;
        urls.push(url);
        stops.push((stop, served));
    }
    // A user no earlier run has seen (the PostgreSQL database outlives runs).
    let user = format!(
        "race-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let token = issuer.token(AUDIENCE, &user);
    let http = client();
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let (http, token) = (http.clone(), token.clone());
        let url = format!("{}/token", urls[i % urls.len()]);
        requests.spawn(async move {
            let response = http.post(url).bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{body}");
            body["userId"].as_str().unwrap().to_string()
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(id) = requests.join_next().await {
        ids.insert(id.unwrap());
    }
    assert_eq!(ids.len(), 1, "every answer names one identity: {ids:?}");
    assert_eq!(
        emulator.identities().len(),
        1,
        "the emulator holds one identity"
    );
    assert_eq!(emulator.stats().tokens_issued, REQUESTS as u64);
    for (stop, served) in stops {
        let _ = stop.send(());
        served.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_sqlite_file_create_one_identity() {
    let dir = std::env::temp_dir().join(format!("acs-ts-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("map.db");
    race(&format!("sqlite:{}", file.display())).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// Needs a PostgreSQL database in `ACS_TS_POSTGRES_URL` (`.ci/run` starts
/// one); skipped without it, except under CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_database_create_one_identity() {
    let Ok(url) = std::env::var("ACS_TS_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must give a PostgreSQL database in ACS_TS_POSTGRES_URL"
        );
        eprintln!("skipped: no ACS_TS_POSTGRES_URL");
        return;
    };
    race(&url).await;
}

/// `sslmode=require` against a server without TLS (the one `.ci/run`
/// starts) stops the start with a message, rather than talking in clear.
#[tokio::test]
async fn sslmode_require_refuses_a_server_without_tls() {
    let Ok(url) = std::env::var("ACS_TS_POSTGRES_URL") else {
        eprintln!("skipped: no ACS_TS_POSTGRES_URL");
        return;
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let error =
        acs_identity_token_service::store::Store::open(&format!("{url}{separator}sslmode=require"))
            .await
            .unwrap_err()
            .to_string();
    assert!(error.to_ascii_lowercase().contains("tls"), "{error}");
    assert!(
        !error.contains("postgres://"),
        "no URL in the message: {error}"
    );
}
