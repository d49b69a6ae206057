//! A development OpenID Connect issuer on 127.0.0.1: ES256 keys made at
//! start, a discovery document, a JWKS, and sign-in tokens for any user on
//! request. It stands in for the app's real identity provider when trying
//! the service locally (`--emulator`) and in tests; it trusts everyone, so
//! it listens on loopback only.
//!
//! | request | answer |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | `{"issuer", "jwks_uri"}` |
//! | `GET /keys` | the JWKS (the current key only) |
//! | `POST /token?sub=USER&aud=AUDIENCE` | a sign-in token, as text, valid for an hour |

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

/// One signing key: its id, its private half for signing and its public
/// point for the JWKS.
struct SigningKey {
    kid: String,
    private: EncodingKey,
    x: String,
    y: String,
}

impl SigningKey {
    fn generate(number: u32) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("generating a P-256 key cannot fail");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("a key just generated parses");
        // An uncompressed point: 0x04, then x and y (32 bytes each).
        let point = pair.public_key().as_ref();
        Self {
            kid: format!("dev-{number}"),
            private: EncodingKey::from_ec_der(pkcs8.as_ref()),
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
        }
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
            "kid": self.kid, "x": self.x, "y": self.y,
        })
    }
}

struct Keys {
    current: SigningKey,
    made: u32,
}

struct Inner {
    issuer: String,
    keys: RwLock<Keys>,
}

/// A development OpenID Connect issuer on 127.0.0.1: ES256 keys made at
/// start, `GET /.well-known/openid-configuration`, `GET /keys` (the JWKS,
/// current key only) and `POST /token?sub=USER&aud=AUDIENCE` (a sign-in
/// token as text, valid for an hour). It trusts everyone: for local trials
/// (`--emulator`) and tests only.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use acs_identity_token_service::DevIssuer;
///
/// let issuer = DevIssuer::start().await?;
/// let token = issuer.token("my-app", "alice");
/// assert_eq!(token.split('.').count(), 3);
/// let keys: serde_json::Value = reqwest::get(format!("{}/keys", issuer.issuer())).await?.json().await?;
/// assert_eq!(keys["keys"][0]["alg"], "ES256");
/// # Ok(())
/// # }
/// ```
pub struct DevIssuer {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Starts the issuer on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start() -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            issuer: format!("http://{addr}"),
            keys: RwLock::new(Keys {
                current: SigningKey::generate(1),
                made: 1,
            }),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(keys))
            .route("/token", post(mint))
            .layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(tower_http::cors::Any)
                    .allow_methods(tower_http::cors::Any),
            )
            .with_state(Arc::clone(&inner));
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!("the development issuer stopped: {e}");
            }
        });
        Ok(Self { inner, addr, stop })
    }

    /// The issuer URL (`http://127.0.0.1:PORT`): the `iss` of its tokens,
    /// and what the service's `[oidc] issuer` should say.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A sign-in token for `subject`, for `audience`, valid for an hour.
    pub fn token(&self, audience: &str, subject: &str) -> String {
        self.token_with(json!({ "aud": audience, "sub": subject }))
    }

    /// A sign-in token with `claims` over the defaults (`iss` this issuer,
    /// `iat` and `nbf` now, `exp` in an hour), signed with the current key.
    pub fn token_with(&self, claims: Value) -> String {
        self.inner.sign(claims, Duration::from_secs(3600))
    }

    /// Makes a new signing key the current one; the JWKS then lists only
    /// it, so tokens signed with the old key stop verifying once a verifier
    /// fetches the keys again.
    pub fn rotate(&self) {
        let mut keys = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.made += 1;
        keys.current = SigningKey::generate(keys.made);
    }

    /// The `kid` of the current key.
    pub fn current_kid(&self) -> String {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current
            .kid
            .clone()
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Inner {
    fn sign(&self, claims: Value, lifetime: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let mut all = json!({
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(lifetime),
        });
        if let (Value::Object(all), Value::Object(claims)) = (&mut all, claims) {
            all.extend(claims);
        }
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.current.kid.clone());
        jsonwebtoken::encode(&header, &all, &keys.current.private)
            .expect("an ES256 key made here signs")
    }
}

async fn discovery(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(json!({
        "issuer": inner.issuer,
        "jwks_uri": format!("{}/keys", inner.issuer),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

async fn keys(State(inner): State<Arc<Inner>>) -> Response {
    let keys = inner.keys.read().unwrap_or_else(|e| e.into_inner());
    axum::Json(json!({ "keys": [keys.current.jwk()] })).into_response()
}

#[derive(Deserialize)]
struct MintQuery {
    sub: Option<String>,
    aud: Option<String>,
}

async fn mint(State(inner): State<Arc<Inner>>, Query(q): Query<MintQuery>) -> Response {
    let (Some(sub), Some(aud)) = (q.sub.filter(|s| !s.is_empty()), q.aud) else {
        return (StatusCode::BAD_REQUEST, "give sub and aud in the query\n").into_response();
    };
    inner
        .sign(json!({ "sub": sub, "aud": aud }), Duration::from_secs(3600))
        .into_response()
}
