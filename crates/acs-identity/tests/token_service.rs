//! The token-service example, in process: the example's own router
//! (`examples/token_service/app.rs`) served on 127.0.0.1 against the
//! emulator, and called over HTTP.

#[path = "../examples/token_service/app.rs"]
mod app;

use std::net::{Ipv4Addr, TcpListener as StdListener};
use std::time::Duration;

use acs_identity::{AccessKey, CommunicationTokenCredential, RetryOptions, preview};
use acs_identity_emulator::{Emulator, Faults};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A client of `endpoint` that gives up quickly.
fn acs_client(endpoint: &str, access_key: &str) -> preview::CommunicationIdentityClient {
    preview::CommunicationIdentityClient::builder(endpoint)
        .access_key(AccessKey::new(access_key).expect("a base64 key"))
        .retry(
            RetryOptions::default()
                .max_retries(2)
                .initial_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .per_try_timeout(Duration::from_secs(5))
        .build_preview()
        .expect("a valid client")
}

/// The service's router on a free port of 127.0.0.1; stopped on drop.
struct Service {
    url: String,
    server: JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Service {
    async fn start(client: preview::CommunicationIdentityClient) -> Self {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app::router(client))
                .await
                .expect("serve");
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self { url, server, http }
    }

    /// POSTs a JSON body; the status and the JSON answer.
    async fn post(&self, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(&self.url)
            .json(body)
            .send()
            .await
            .expect("the service answers");
        answer(response).await
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    (status, response.json().await.expect("a JSON body"))
}

async fn emulator_and_service() -> (Emulator, Service) {
    let emulator = Emulator::builder()
        .start()
        .await
        .expect("the emulator starts");
    let service = Service::start(acs_client(&emulator.endpoint(), emulator.access_key())).await;
    (emulator, service)
}

fn request(app_user_id: &str, scopes: &[&str]) -> Value {
    json!({ "appUserId": app_user_id, "scopes": scopes })
}

#[tokio::test]
async fn issues_tokens_and_maps_each_app_user_to_one_identity() {
    let (emulator, service) = emulator_and_service().await;

    let (status, alice) = service
        .post(&request("alice@contoso.com", &["chat", "voip"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    let fields: Vec<&str> = alice
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields.len(), 3, "{alice}");
    let user_id = alice["userId"].as_str().unwrap();
    assert!(user_id.starts_with("8:acs:"), "{user_id}");
    let token = alice["token"].as_str().unwrap();
    assert!(emulator.is_token_valid(token));
    let expires_on: DateTime<Utc> = alice["expiresOn"].as_str().unwrap().parse().unwrap();
    let lifetime = expires_on - Utc::now();
    assert!(
        lifetime > chrono::TimeDelta::hours(23) && lifetime <= chrono::TimeDelta::hours(24),
        "{lifetime}"
    );

    // The same app user gets the same identity (custom id), with a new token.
    let (status, again) = service
        .post(&request("alice@contoso.com", &["voip", "chat", "voip"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["userId"], alice["userId"]);
    assert!(emulator.is_token_valid(again["token"].as_str().unwrap()));

    // Another app user gets another identity.
    let (status, bob) = service
        .post(&request("bob@contoso.com", &["chat.join"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{bob}");
    assert_ne!(bob["userId"], alice["userId"]);
    assert!(emulator.is_token_valid(bob["token"].as_str().unwrap()));

    // The identity carries the app user id as its custom id.
    let client = acs_client(&emulator.endpoint(), emulator.access_key());
    let user = acs_identity::CommunicationUserIdentifier::new(user_id).unwrap();
    let detail = client.get_user(&user).await.unwrap();
    assert_eq!(detail.custom_id.as_deref(), Some("alice@contoso.com"));
    assert_eq!(emulator.stats().tokens_issued, 3);
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_json_error_and_never_reaches_acs() {
    let (emulator, service) = emulator_and_service().await;
    let too_long = "a".repeat(257);
    let cases = [
        (
            request("alice", &["chat", "admin"]),
            "InvalidScopes",
            "admin",
        ),
        (request("alice", &["Chat"]), "InvalidScopes", "Chat"),
        (request("alice", &[]), "InvalidScopes", "at least one"),
        (request("", &["chat"]), "InvalidAppUserId", "empty"),
        (request("  \t", &["chat"]), "InvalidAppUserId", "empty"),
        (request(&too_long, &["chat"]), "InvalidAppUserId", "256"),
        (json!({ "scopes": ["chat"] }), "InvalidBody", "appUserId"),
        (json!({ "appUserId": "alice" }), "InvalidBody", "scopes"),
        (
            json!({ "appUserId": 7, "scopes": ["chat"] }),
            "InvalidBody",
            "appUserId",
        ),
        (
            json!({ "appUserId": "alice", "scopes": "chat" }),
            "InvalidBody",
            "scopes",
        ),
        (
            json!({ "appUserId": "alice", "scopes": ["chat"], "admin": true }),
            "InvalidBody",
            "admin",
        ),
        (json!(["alice"]), "InvalidBody", ""),
    ];
    for (body, code, mentions) in cases {
        let (status, error) = service.post(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{body} -> {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body} -> {message}");
    }

    // Not JSON at all, or without a JSON content type.
    for (content_type, body) in [
        ("application/json", "{\"appUserId\":"),
        ("text/plain", "{}"),
    ] {
        let response = service
            .http
            .post(&service.url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = answer(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["code"], "InvalidBody");
    }
    assert_eq!(emulator.stats().requests, 0);
}

#[tokio::test]
async fn an_acs_failure_is_a_502() {
    let (emulator, service) = emulator_and_service().await;
    emulator.set_faults("500".parse::<Faults>().unwrap());
    let (status, error) = service.post(&request("alice", &["chat"])).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert_eq!(error["error"]["code"], "UpstreamFailed");
    assert!(emulator.stats().faults >= 1);

    // Once Communication Services is back, so is the service.
    emulator.set_faults(Faults::none());
    let (status, ok) = service.post(&request("alice", &["chat"])).await;
    assert_eq!(status, StatusCode::OK, "{ok}");

    // A wrong access key (401 from Communication Services) is a 502 too.
    let wrong_key = Service::start(acs_client(&emulator.endpoint(), "d3Jvbmcta2V5")).await;
    let (status, error) = wrong_key.post(&request("alice", &["chat"])).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert!(emulator.stats().unauthorized >= 1);
}

#[tokio::test]
async fn an_unreachable_acs_is_a_502() {
    // A port nothing listens on any more.
    let port = StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = acs_client(&format!("http://127.0.0.1:{port}/"), "c2VjcmV0");
    let service = Service::start(client).await;
    let (status, error) = service.post(&request("alice", &["chat"])).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert_eq!(error["error"]["code"], "UpstreamFailed");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1"),
        "upstream details leaked: {message}"
    );
}

#[tokio::test]
async fn a_credential_keeps_its_token_from_the_service() {
    let (emulator, service) = emulator_and_service().await;
    let (http, url) = (service.http.clone(), service.url.clone());
    let credential = CommunicationTokenCredential::builder(move || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let answer: Value = http
                .post(url)
                .json(&request("carol@contoso.com", &["chat"]))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let token = answer["token"].as_str().ok_or("no token in the answer")?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(token.to_string())
        }
    })
    .refresh_proactively(true)
    .build()
    .unwrap();

    let first = credential.get_token().await.unwrap();
    assert!(emulator.is_token_valid(first.token()));
    // The expiry comes from the token's own `exp` claim.
    assert!(first.expires_on() > Utc::now() + chrono::TimeDelta::hours(23));
    // Cached: a day to go, so no second call.
    assert_eq!(credential.get_token().await.unwrap(), first);
    assert_eq!(emulator.stats().tokens_issued, 1);
    credential.dispose();
    assert!(credential.get_token().await.is_err());
}
