//! A trusted token service for Azure Communication Services: the backend
//! that hands a chat or calling app's signed-in users their Communication
//! Services access tokens.
//!
//! - **Authenticated callers**: each request carries the app's own sign-in
//!   token (an OpenID Connect JWT), verified against the issuer's keys
//!   ([`oidc`]); the app user is its `sub` (or a configured claim).
//! - **One identity per app user**, created on first use: with the preview
//!   api-version the ACS custom id holds the mapping; with the stable one a
//!   store does ([`store`]: SQLite for one instance, PostgreSQL for several,
//!   exactly one identity per user across instances).
//! - **Tokens** for the scopes the deployment allows, from a per-user cache
//!   while fresh ([`cache`]), under a per-user rate limit ([`limit`]).
//! - **Browser apps**: CORS for configured origins; `POST /token` answers
//!   the `{token, expiresOn}` that an `AzureCommunicationTokenCredential`'s
//!   `tokenRefresher` needs.
//! - **Operations**: `/healthz`, `/readyz`, Prometheus `/metrics`
//!   ([`metrics`]), a request log without secrets, graceful shutdown,
//!   configuration from a file and the environment ([`Config`]).
//!
//! The HTTP API is described in [`service`]. Use it as a command
//! (`acs-identity-token-service --config service.toml`) or mount
//! [`TokenService::router`] in an axum app.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use acs_identity_token_service::{Config, DevIssuer, TokenService};
//!
//! let emulator = acs_identity_emulator::Emulator::builder().start().await?;
//! let issuer = DevIssuer::start().await?; // stands in for the app's identity provider
//! let mut config = Config::from_toml(&format!(
//!     "connection_string = {:?}\nstore = \"sqlite::memory:\"\n[oidc]\nissuer = {:?}\naudience = \"my-app\"",
//!     emulator.connection_string(),
//!     issuer.issuer(),
//! ))?;
//! let service = TokenService::new(&config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(service.serve(listener, std::future::pending()));
//!
//! let answer: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{url}/token"))
//!     .bearer_auth(issuer.token("my-app", "alice"))
//!     .json(&serde_json::json!({"scopes": ["chat"]}))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert!(emulator.is_token_valid(answer["token"].as_str().unwrap()));
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod config;
mod dev_issuer;
mod error;
pub mod limit;
pub mod metrics;
pub mod oidc;
pub mod server;
pub mod service;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use acs_identity::{ClientBuilder, CommunicationIdentityClient, RetryOptions};
use axum::Router;
use axum::http::HeaderValue;

pub use config::{
    AcsAuth, AcsConfig, ApiVersion, Config, ConfigError, CorsConfig, LogFormat, OidcConfig, Secret,
    ServerConfig, TeamsConfig, TokensConfig,
};
pub use dev_issuer::DevIssuer;
pub use oidc::Refusal;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The connection string (or another client setting) is not usable.
    #[error("Communication Services client: {0}")]
    Client(#[from] acs_identity::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The Entra ID credential of `[acs] auth` could not be made.
    #[error("[acs] auth = {auth:?}: {message}")]
    Credential {
        /// The mode.
        auth: &'static str,
        /// Why.
        message: String,
    },
    /// A CORS origin is not a valid header value.
    #[error("cors.allowed_origins: {0:?} is not a valid origin")]
    Origin(String),
}

/// The token service: cheap to clone, one per process (or per instance).
#[derive(Clone)]
pub struct TokenService {
    inner: Arc<service::Inner>,
    origins: Vec<HeaderValue>,
    limits: server::Limits,
    /// `/readyz` and `/metrics` on `admin_listen`, not on the public routes.
    separate_admin: bool,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("acs", &self.inner.acs)
            .field("allowed", &self.inner.allowed)
            .finish_non_exhaustive()
    }
}

/// The most user mappings kept in memory.
const MAPPINGS_CAPACITY: u64 = 100_000;

/// The client's settings under a request deadline: its calls end within
/// it (a second is left for the store and the answer), each try gets half
/// of it, and a wait ACS asks for that is longer than a second is passed
/// on to the caller rather than slept on.
fn client_builder(config: &Config, deadline: Duration) -> Result<ClientBuilder, StartError> {
    let calls = deadline
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(500));
    let builder = match config.acs_auth() {
        None | Some(AcsAuth::Key) => CommunicationIdentityClient::builder_from_connection_string(
            config.connection_string.expose(),
        )?,
        Some(auth) => {
            let endpoint = config.acs_endpoint().unwrap_or_default();
            CommunicationIdentityClient::builder(&endpoint)
                .token_credential(entra_credential(auth, config)?)
        }
    };
    Ok(builder
        .deadline(calls)
        .per_try_timeout(calls / 2)
        .retry(RetryOptions::default().max_delay(Duration::from_secs(1))))
}

/// The Entra ID credential of `auth`, from azure_identity. Each finds what
/// it needs in the environment (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER` on App
/// Service and Container Apps, the instance metadata service elsewhere;
/// `AZURE_FEDERATED_TOKEN_FILE` for workload identity; `az`/`azd` on `PATH`
/// for a developer).
fn entra_credential(
    auth: AcsAuth,
    config: &Config,
) -> Result<Arc<dyn azure_core::credentials::TokenCredential>, StartError> {
    let failed = |e: azure_core::Error| StartError::Credential {
        auth: auth.as_str(),
        message: e.to_string(),
    };
    Ok(match auth {
        AcsAuth::ManagedIdentity => {
            let options = azure_identity::ManagedIdentityCredentialOptions {
                user_assigned_id: config
                    .acs
                    .managed_identity_client_id
                    .clone()
                    .map(azure_identity::UserAssignedId::ClientId),
                ..Default::default()
            };
            azure_identity::ManagedIdentityCredential::new(Some(options)).map_err(failed)?
        }
        AcsAuth::WorkloadIdentity => {
            azure_identity::WorkloadIdentityCredential::new(None).map_err(failed)?
        }
        AcsAuth::Developer => {
            azure_identity::DeveloperToolsCredential::new(None).map_err(failed)?
        }
        AcsAuth::Key => unreachable!("the key mode needs no credential"),
    })
}

impl TokenService {
    /// Builds the client, opens the store and prepares the verifier (the
    /// issuer's keys are fetched on first use).
    ///
    /// # Errors
    ///
    /// [`StartError`] when the connection string, the store or an origin
    /// cannot be used.
    pub async fn new(config: &Config) -> Result<Self, StartError> {
        let deadline = config.server.request_deadline();
        let client = client_builder(config, deadline)?;
        let acs = match config.api_version {
            ApiVersion::Stable => service::Acs::Stable(
                client.build()?,
                store::Store::open_with(config.store.expose(), &config.store_options()).await?,
            ),
            ApiVersion::Preview => service::Acs::Preview(client.build_preview()?),
        };
        let origins = config
            .cors
            .allowed_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| StartError::Origin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let inner = service::Inner {
            acs,
            verifier: oidc::Verifier::new(&config.oidc),
            allowed: config.allowed_scopes(),
            expires_in: config
                .tokens
                .expires_in_minutes
                .map(|m| Duration::from_secs(u64::from(m) * 60)),
            cache: config.tokens.cache.then(cache::TokenCache::default),
            limit: limit::RateLimit::new(config.tokens.rate_limit_per_minute),
            metrics: metrics::Metrics::default(),
            ready: tokio::sync::Mutex::new(None),
            mappings: moka::sync::Cache::builder()
                .max_capacity(MAPPINGS_CAPACITY)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            teams_client_id: config.teams.as_ref().map(|t| t.client_id.clone()),
            deadline,
            body_timeout: config.server.limits().body_timeout,
        };
        Ok(Self {
            inner: Arc::new(inner),
            origins,
            limits: config.server.limits(),
            separate_admin: config.admin_listen.is_some(),
        })
    }

    /// The service's routes, to serve or to mount in an app.
    ///
    /// With `admin_listen` configured, `/readyz` and `/metrics` are left
    /// out: [`admin_router`](Self::admin_router) serves them.
    pub fn router(&self) -> Router {
        service::router(Arc::clone(&self.inner), &self.origins, !self.separate_admin)
    }

    /// The operations routes: `/healthz`, `/readyz` and `/metrics`, to
    /// serve on a private address (`admin_listen`).
    pub fn admin_router(&self) -> Router {
        service::admin_router(Arc::clone(&self.inner))
    }

    /// Serves [`admin_router`](Self::admin_router) on `listener` under the
    /// same bounds as [`serve`](Self::serve), until `shutdown` completes.
    ///
    /// # Errors
    ///
    /// None today: accept errors pause the loop instead of ending it.
    pub async fn serve_admin(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.admin_router();
        server::serve(listener, router, self.limits, shutdown).await
    }

    /// Serves on `listener` until `shutdown` completes, then lets the
    /// requests in flight finish within the shutdown grace period, under
    /// the bounds of `[server]` ([`server::Limits`]): request heads, bodies
    /// and idle connections time out, open connections are capped.
    ///
    /// # Errors
    ///
    /// None today: accept errors pause the loop instead of ending it.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        server::serve(listener, router, self.limits, shutdown).await
    }

    /// The Prometheus metrics text (what `GET /metrics` answers).
    pub fn metrics(&self) -> String {
        self.inner.metrics.encode()
    }
}
