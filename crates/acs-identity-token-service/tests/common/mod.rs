//! A token service against an in-process emulator, with a development
//! issuer standing in for the app's identity provider.

#![allow(dead_code)]

use std::time::Duration;

use acs_identity_emulator::Emulator;
use acs_identity_token_service::{Config, DevIssuer, TokenService};
use tokio::sync::oneshot;

/// The audience the tests' sign-in tokens are for.
pub const AUDIENCE: &str = "test-app";

/// A running service and what it talks to.
pub struct Setup {
    pub emulator: Emulator,
    pub issuer: DevIssuer,
    pub service: TokenService,
    pub url: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The TOML of a service on `emulator` and `issuer`, with `extra` lines
/// added at the top level (before any section) and `tokens` lines in the
/// `[tokens]` section.
pub fn config_text(emulator: &Emulator, issuer: &DevIssuer, top: &str, tokens: &str) -> String {
    let store = if top.contains("store =") {
        ""
    } else {
        "store = \"sqlite::memory:\"\n"
    };
    format!(
        "connection_string = {conn:?}\n{store}{top}\n\
         [oidc]\nissuer = {iss:?}\naudience = {AUDIENCE:?}\njwks_refresh_seconds = 10\n\
         [tokens]\n{tokens}\n",
        conn = emulator.connection_string(),
        iss = issuer.issuer(),
    )
}

impl Setup {
    /// A service with `top` and `tokens` configuration lines.
    pub async fn new(top: &str, tokens: &str) -> Self {
        let emulator = Emulator::builder().start().await.unwrap();
        let issuer = DevIssuer::start().await.unwrap();
        let config = Config::from_toml(&config_text(&emulator, &issuer, top, tokens)).unwrap();
        Self::with(emulator, issuer, &config).await
    }

    /// A service whose default configuration text (no extra lines) is
    /// first changed by `edit`, which sees the emulator (for its key).
    pub async fn edited(edit: impl FnOnce(&Emulator, String) -> String) -> Self {
        let emulator = Emulator::builder().start().await.unwrap();
        let issuer = DevIssuer::start().await.unwrap();
        let text = edit(&emulator, config_text(&emulator, &issuer, "", ""));
        let config = Config::from_toml(&text).unwrap();
        Self::with(emulator, issuer, &config).await
    }

    /// A service of the default configuration, changed by `tune` after it
    /// was read (for values a file may not set, such as a key refresh
    /// interval below the floor).
    pub async fn tuned(tune: impl FnOnce(&mut Config)) -> Self {
        let emulator = Emulator::builder().start().await.unwrap();
        let issuer = DevIssuer::start().await.unwrap();
        let mut config = Config::from_toml(&config_text(&emulator, &issuer, "", "")).unwrap();
        tune(&mut config);
        Self::with(emulator, issuer, &config).await
    }

    /// A service with `config` on `emulator` and `issuer`.
    pub async fn with(emulator: Emulator, issuer: DevIssuer, config: &Config) -> Self {
        let service = TokenService::new(config).await.unwrap();
        let (url, stop, served) = serve(&service).await;
        Self {
            emulator,
            issuer,
            service,
            url,
            http: client(),
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// A sign-in token for `user`.
    pub fn sign_in(&self, user: &str) -> String {
        self.issuer.token(AUDIENCE, user)
    }

    /// `POST path` with `bearer` as the sign-in token, if any, and no body.
    pub async fn post(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.url));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `POST /token` as `user` with `body`.
    pub async fn token(&self, user: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/token", self.url))
            .bearer_auth(self.sign_in(user))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Stops serving and waits for the server task (bounded).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(Duration::from_secs(10), served)
                .await
                .expect("the service stops")
                .unwrap()
                .unwrap();
        }
    }
}

/// Serves `service` on a free port of 127.0.0.1.
pub async fn serve(
    service: &TokenService,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(service.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    (url, stop, served)
}

/// An HTTP client with a bound on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The JSON body of `response`, after checking its status.
pub async fn json(response: reqwest::Response, status: u16) -> serde_json::Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// What the emulator says of a token: `{valid, userId, scopes, …}`.
pub async fn validate(emulator: &Emulator, token: &str) -> serde_json::Value {
    client()
        .post(format!("{}_emulator/validate-token", emulator.endpoint()))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends SIGTERM to `child`.
pub fn sigterm(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for `child` to exit, at most `limit` (then kills it and fails).
pub async fn exit_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("it did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
