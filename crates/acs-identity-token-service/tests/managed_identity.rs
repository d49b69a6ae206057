//! ACS without an access key: the command with `[acs] auth =
//! "managed-identity"` gets its tokens from the App Service form of managed
//! identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), here a stand-in on
//! 127.0.0.1 that hands out tokens the emulator accepts. No connection
//! string, no key; nothing leaves loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use acs_identity_emulator::Emulator;
use acs_identity_token_service::DevIssuer;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use common::{AUDIENCE, client};

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity-token-service");
const IDENTITY_HEADER: &str = "stand-in-identity-header";

/// The stand-in's state: the emulator's bearer token and the requests seen.
struct Standin {
    token: String,
    served: AtomicUsize,
}

/// `GET /msi/token?api-version=2019-08-01&resource=…` with
/// `X-IDENTITY-HEADER`, as App Service answers it.
async fn msi_token(
    State(standin): State<Arc<Standin>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<serde_json::Value>, StatusCode> {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(IDENTITY_HEADER)
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let resource = query.get("resource").cloned().unwrap_or_default();
    if !resource.starts_with("https://communication.azure.com") {
        return Err(StatusCode::BAD_REQUEST);
    }
    standin.served.fetch_add(1, Ordering::Relaxed);
    let expires_on = (chrono::Utc::now().timestamp() + 3600).to_string();
    Ok(axum::Json(serde_json::json!({
        "access_token": standin.token,
        "expires_on": expires_on,
        "token_type": "Bearer",
        "resource": resource,
    })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_managed_identity_the_service_reaches_acs_without_a_key() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let standin = Arc::new(Standin {
        token: emulator.management_token(),
        served: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity_endpoint = format!("http://{}/msi/token", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/msi/token", get(msi_token))
        .with_state(Arc::clone(&standin));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("acs-ts-mi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\nstore = \"sqlite::memory:\"\n\
             [acs]\nauth = \"managed-identity\"\nendpoint = {endpoint:?}\n\
             [oidc]\nissuer = {iss:?}\naudience = {AUDIENCE:?}\n",
            endpoint = emulator.endpoint(),
            iss = issuer.issuer(),
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("ACS_CONNECTION_STRING")
        .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING")
        .env("IDENTITY_ENDPOINT", &identity_endpoint)
        .env("IDENTITY_HEADER", IDENTITY_HEADER)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");

    let answer = client()
        .post(format!("{url}/token"))
        .bearer_auth(issuer.token(AUDIENCE, "alice"))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(emulator.is_token_valid(body["token"].as_str().unwrap()));
    assert_eq!(emulator.identities().len(), 1);
    assert!(
        standin.served.load(Ordering::Relaxed) >= 1,
        "the token came from the managed identity endpoint"
    );
    // Every call the emulator answered was authenticated by the bearer
    // token: the service has no key to sign with.
    assert_eq!(emulator.stats().unauthorized, 0);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_entra_mode_without_an_endpoint_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("acs-ts-mi-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.toml");
    std::fs::write(
        &path,
        "[acs]\nauth = \"managed-identity\"\n[oidc]\nissuer = \"https://issuer.example/\"\naudience = \"app\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("ACS_CONNECTION_STRING")
        .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING")
        .env_remove("ACS_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("acs.endpoint"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
