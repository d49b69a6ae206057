//! The token service proven with the client that will call it: the official
//! `@azure/communication-common` in headless Chromium, on a page of another
//! origin, builds an `AzureCommunicationTokenCredential` whose refresher
//! calls the service with the app's sign-in token.
//!
//! The bundle comes from `tests/browser/js/bundle.sh` (npm and esbuild;
//! `.ci/run` runs it). Without it the tests say so and pass, except under
//! CI.

use std::path::PathBuf;
use std::time::Duration;

use acs_identity_emulator::Emulator;
use acs_identity_token_service::{Config, DevIssuer, TokenService};
use axum::Router;
use axum::http::header;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::driver::Browser;

/// The audience of the page's sign-in tokens.
const AUDIENCE: &str = "browser-app";

/// How long the emulator's tokens live here: short, so the credential's
/// proactive refresh (at half of what is left, once inside its ten-minute
/// window) comes within seconds.
const TOKEN_LIFETIME: Duration = Duration::from_secs(8);

/// How long the page gets for what a test waits for.
const WITHIN: Duration = Duration::from_secs(40);

fn bundle() -> Option<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/js/communication-common.js");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must bundle @azure/communication-common first (tests/browser/js/bundle.sh)"
            );
            eprintln!(
                "skipped: {} is missing (run tests/browser/js/bundle.sh)",
                path.display()
            );
            None
        }
    }
}

/// The emulator, the sign-in issuer, the token service (CORS for the page's
/// origin) and the page, each on its own port of 127.0.0.1.
struct Stage {
    emulator: Emulator,
    issuer: DevIssuer,
    service: TokenService,
    service_url: String,
    page_url: String,
    stops: Vec<oneshot::Sender<()>>,
}

impl Stage {
    /// With `short_tokens`, the emulator's tokens live [`TOKEN_LIFETIME`];
    /// otherwise as long as asked (a day by default).
    async fn start(bundle: String, short_tokens: bool) -> Stage {
        let mut emulator = Emulator::builder();
        if short_tokens {
            emulator = emulator.token_lifetime(TOKEN_LIFETIME);
        }
        let emulator = emulator.start().await.unwrap();
        let issuer = DevIssuer::start().await.unwrap();
        let mut stops = Vec::new();

        let page = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let page_url = format!("http://{}", page.local_addr().unwrap());
        let site = Router::new()
            .route(
                "/",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        include_str!("js/page.html"),
                    )
                }),
            )
            .route(
                "/communication-common.js",
                get(move || async move { ([(header::CONTENT_TYPE, "text/javascript")], bundle) }),
            );
        stops.push(spawn(page, site));

        let config = Config::from_toml(&format!(
            "connection_string = {conn:?}\nstore = \"sqlite::memory:\"\n\
             [oidc]\nissuer = {iss:?}\naudience = {AUDIENCE:?}\n\
             [tokens]\nscopes = [\"chat\", \"voip\"]\n\
             [cors]\nallowed_origins = [{page_url:?}]\n",
            conn = emulator.connection_string(),
            iss = issuer.issuer(),
        ))
        .unwrap();
        let service = TokenService::new(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service_url = format!("http://{}", listener.local_addr().unwrap());
        stops.push(spawn(listener, service.router()));
        Stage {
            emulator,
            issuer,
            service,
            service_url,
            page_url,
            stops,
        }
    }

    /// Opens the page and starts the credential; its first token or
    /// `error: …`.
    async fn start_credential(&self, browser: &Browser, sign_in: Option<String>) -> String {
        browser
            .client
            .goto(&format!("{}/", self.page_url))
            .await
            .unwrap();
        let first = browser
            .client
            .execute_async(
                "const [url, token, done] = arguments; window.startCredential(url, token).then(done);",
                vec![json!(self.service_url), json!(sign_in)],
            )
            .await
            .unwrap();
        first.as_str().unwrap_or_default().to_string()
    }

    fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
    }
}

/// The browser and the stage, or `None` (the tests pass, saying why) when
/// the bundle or Chromium is missing outside CI.
async fn staged(short_tokens: bool) -> Option<(Browser, Stage)> {
    let bundle = bundle()?;
    let browser = Browser::start().await?;
    Some((browser, Stage::start(bundle, short_tokens).await))
}

fn spawn(listener: tokio::net::TcpListener, app: Router) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

/// What the page has seen so far.
async fn seen(browser: &Browser) -> Value {
    browser
        .client
        .execute("return window.seen;", vec![])
        .await
        .unwrap()
}

/// What the emulator says of `token`.
async fn validate(emulator: &Emulator, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}_emulator/validate-token", emulator.endpoint()))
        .json(&json!({ "token": token }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_official_credential_gets_a_token_the_emulator_accepts() {
    let Some((browser, stage)) = staged(false).await else {
        return;
    };
    let sign_in = stage.issuer.token(AUDIENCE, "alice@contoso.com");
    let first = stage.start_credential(&browser, Some(sign_in)).await;
    assert!(
        first.starts_with("eyJ"),
        "the credential's first token: {first:?}"
    );
    let checked = validate(&stage.emulator, &first).await;
    assert_eq!(checked["valid"], true, "{checked}");
    assert_eq!(checked["scopes"], json!(["chat", "voip"]));
    // getToken again: the credential keeps its token (a day left), no new
    // call to the service.
    let again = browser
        .client
        .execute_async(
            "const [done] = arguments; window.credential.getToken().then((t) => done(t.token));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(again.as_str(), Some(first.as_str()));
    assert_eq!(
        seen(&browser).await["tokens"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(stage.emulator.identities().len(), 1);
    browser.close().await;
    stage.stop();
}

#[tokio::test]
async fn with_short_lived_tokens_the_credential_refreshes_through_the_service() {
    let Some((browser, stage)) = staged(true).await else {
        return;
    };
    let sign_in = stage.issuer.token(AUDIENCE, "alice@contoso.com");
    let first = stage.start_credential(&browser, Some(sign_in)).await;
    let checked = validate(&stage.emulator, &first).await;
    assert_eq!(checked["valid"], true, "{checked}");

    // Proactive refresh: the page gets new tokens through the service
    // without being asked, each one valid for the same identity.
    let deadline = tokio::time::Instant::now() + WITHIN;
    let tokens = loop {
        let seen = seen(&browser).await;
        let tokens: Vec<String> = serde_json::from_value(seen["tokens"].clone()).unwrap();
        if tokens.len() >= 3 {
            break tokens;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no proactive refresh within {WITHIN:?}: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(tokens[0], first);
    assert_ne!(tokens[1], tokens[0]);
    let latest = validate(&stage.emulator, tokens.last().unwrap()).await;
    assert_eq!(latest["valid"], true, "{latest}");
    assert_eq!(
        latest["userId"], checked["userId"],
        "one identity per app user"
    );
    assert_eq!(stage.emulator.identities().len(), 1);
    let metrics = stage.service.metrics();
    assert!(
        metrics.contains("acs_token_service_tokens_issued_total{source=\"minted\"}"),
        "{metrics}"
    );
    browser.close().await;
    stage.stop();
}

#[tokio::test]
async fn without_the_sign_in_token_the_credential_gets_401_and_nothing_is_created() {
    let Some((browser, stage)) = staged(false).await else {
        return;
    };
    let first = stage.start_credential(&browser, None).await;
    assert!(first.contains("401"), "{first:?}");
    let seen = seen(&browser).await;
    assert_eq!(seen["refused"][0], 401, "{seen}");
    assert!(stage.emulator.identities().is_empty());
    browser.close().await;
    stage.stop();
}
