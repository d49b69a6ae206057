//! The service's configuration: a TOML file, then environment variables
//! over it (so a container sets secrets and per-deployment values without a
//! file).
//!
//! ```toml
//! listen = "127.0.0.1:8090"
//! # admin_listen = "127.0.0.1:9090" # /readyz and /metrics there only
//! # log_format = "json"             # one JSON object a line
//! api_version = "stable"            # or "preview": the ACS custom id holds the mapping
//! store = "sqlite:tokens.db"        # or "postgres://user@host/db" for several instances
//! store_pool_size = 8               # PostgreSQL connections of this instance
//!
//! [oidc]
//! issuer = "https://login.example.com/"
//! audience = "my-app"
//! # jwks_uri = "https://login.example.com/keys"   # default: from the issuer's discovery document
//! # user_claim = "sub"
//! # jwks_refresh_seconds = 30                     # at most one fetch per interval for unknown kids
//! # audiences = ["api://my-app"]                  # more accepted audiences
//! # required_scopes = ["Tokens.Get"]              # any of these in `scp` (refuses ID and app-only tokens)
//! # required_roles = ["TokenService.User"]        # any of these in `roles`
//! # allowed_client_ids = ["<client id>"]          # `azp` / `appid` allowed to call
//!
//! [tokens]
//! scopes = ["chat", "voip"]         # what callers may ask for
//! cache = true
//! rate_limit_per_minute = 30
//!
//! [cors]
//! allowed_origins = ["https://app.example.com"]
//!
//! [acs]                             # without it: the connection string's access key
//! auth = "managed-identity"         # or "key", "workload-identity", "developer"
//! endpoint = "https://contoso.communication.azure.com/"   # or ACS_ENDPOINT
//! # managed_identity_client_id = "…" # a user-assigned identity
//!
//! [teams]                           # Teams users: POST /token/teams
//! client_id = "<the Custom Teams Endpoint app's client id>"
//!
//! [server]                          # bounds on what a peer can make the service wait for
//! header_timeout_seconds = 15       # a request head, or the next request on an idle connection
//! body_timeout_seconds = 5          # a request body (408 past it)
//! request_deadline_seconds = 10     # a whole request, every ACS call and retry included (503 past it)
//! # max_connections = 960           # default: the descriptor limit less 64
//! shutdown_grace_seconds = 10       # requests in flight may finish this long after SIGTERM
//! ```
//!
//! | variable | overrides |
//! |---|---|
//! | `ACS_CONNECTION_STRING`, else `COMMUNICATION_SERVICES_CONNECTION_STRING` | the resource's connection string (never in the file if you can help it) |
//! | `ACS_ENDPOINT`, `ACS_TS_ACS_AUTH`, `ACS_TS_MANAGED_IDENTITY_CLIENT_ID` | `[acs]` |
//! | `ACS_TS_LISTEN`, `ACS_TS_ADMIN_LISTEN`, `ACS_TS_LOG_FORMAT` | `listen`, `admin_listen`, `log_format` |
//! | `ACS_TS_API_VERSION` | `api_version` |
//! | `ACS_TS_STORE` | `store` |
//! | `ACS_TS_OIDC_ISSUER`, `ACS_TS_OIDC_AUDIENCE`, `ACS_TS_OIDC_JWKS_URI`, `ACS_TS_USER_CLAIM` | `[oidc]` |
//! | `ACS_TS_SCOPES` (comma-separated), `ACS_TS_CACHE` (`true`/`false`), `ACS_TS_RATE_LIMIT` | `[tokens]` |
//! | `ACS_TS_CORS_ORIGINS` (comma-separated) | `[cors] allowed_origins` |

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use acs_identity::TokenScope;
use serde::Deserialize;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong (never a value: it could be a secret).
        message: String,
    },
    /// A value (from the file or the environment) is not valid.
    #[error("{name}: {message}")]
    Invalid {
        /// The setting or variable.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Which Identity API the service calls, and so where the mapping lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ApiVersion {
    /// The stable api-version: the mapping is kept in [`Config::store`].
    #[default]
    Stable,
    /// The preview api-version: the ACS custom id holds the mapping.
    Preview,
}

/// The request log's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line, the same fields.
    Json,
}

/// How the service authenticates to Communication Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AcsAuth {
    /// The resource's access key, from the connection string (HMAC).
    Key,
    /// The managed identity of the Azure host (App Service, Container Apps,
    /// a VM, …): no secret in the deployment.
    ManagedIdentity,
    /// Kubernetes workload identity (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE`).
    WorkloadIdentity,
    /// The developer's `az login` or `azd auth login` (local runs).
    Developer,
}

impl AcsAuth {
    /// The setting's name: `key`, `managed-identity`, …
    pub fn as_str(self) -> &'static str {
        match self {
            AcsAuth::Key => "key",
            AcsAuth::ManagedIdentity => "managed-identity",
            AcsAuth::WorkloadIdentity => "workload-identity",
            AcsAuth::Developer => "developer",
        }
    }
}

/// How Communication Services is reached (`[acs]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AcsConfig {
    /// `key` (default when a connection string is set), `managed-identity`,
    /// `workload-identity` or `developer`.
    #[serde(default)]
    pub auth: Option<AcsAuth>,
    /// The resource's endpoint (`https://<resource>.communication.azure.com/`)
    /// for the Entra ID modes; default: the connection string's.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A user-assigned managed identity's client id (default: the
    /// system-assigned identity).
    #[serde(default)]
    pub managed_identity_client_id: Option<String>,
}

/// A secret string: never shown by `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// How callers' sign-in tokens are verified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OidcConfig {
    /// The `iss` the tokens must carry (the issuer's URL).
    pub issuer: String,
    /// The `aud` the tokens must carry (your app's client id).
    #[serde(default)]
    pub audience: String,
    /// More accepted audiences (an Entra app's `api://…` URI beside its
    /// client id); a token must carry `audience` or one of these.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Scopes of which a token must carry at least one in `scp` (delegated
    /// tokens: a user signed in to a client of yours). Empty: none needed.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// App roles of which a token must carry at least one in `roles`.
    /// With `required_scopes` as well, either kind suffices.
    #[serde(default)]
    pub required_roles: Vec<String>,
    /// The client applications (`azp`, or Entra v1's `appid`) allowed to
    /// call; empty: any client of the audience.
    #[serde(default)]
    pub allowed_client_ids: Vec<String>,
    /// Where the issuer's keys are; default: `jwks_uri` of
    /// `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The claim that names the app user (default `sub`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Fetch the keys again for an unknown `kid` at most this often
    /// (seconds, default 30; at least [`MIN_JWKS_REFRESH_SECONDS`] in a
    /// file or the environment, so made-up `kid`s cannot turn into a
    /// stream of fetches).
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
}

/// The shortest `oidc.jwks_refresh_seconds` a configuration may set.
pub const MIN_JWKS_REFRESH_SECONDS: u64 = 10;

/// The bounds on what a peer can make the service wait for (`[server]`).
///
/// # Examples
///
/// ```
/// use acs_identity_token_service::Config;
///
/// let config = Config::from_toml(r#"
///     connection_string = "endpoint=https://contoso.communication.azure.com/;accesskey=a2V5"
///     [oidc]
///     issuer = "https://login.example.com/"
///     audience = "my-app"
///     [server]
///     request_deadline_seconds = 5
/// "#)?;
/// let limits = config.server.limits();
/// assert_eq!(limits.header_timeout.as_secs(), 15);
/// assert_eq!(config.server.request_deadline().as_secs(), 5);
/// # Ok::<(), acs_identity_token_service::ConfigError>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The longest wait for a request head, and for the next request on an
    /// idle keep-alive connection (default 15).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// The longest wait for a request body (default 5); 408 past it.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_seconds: u64,
    /// The longest a request may take, every call to Communication Services
    /// and its retries included (default 10); 503 with `Retry-After` past it.
    #[serde(default = "default_request_deadline")]
    pub request_deadline_seconds: u64,
    /// The most connections open at once (default: the process's
    /// descriptor limit less 64, at most 10,000).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// How long requests in flight may finish after shutdown begins
    /// (default 10); the process stops after it whatever its clients do.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout_seconds: default_header_timeout(),
            body_timeout_seconds: default_body_timeout(),
            request_deadline_seconds: default_request_deadline(),
            max_connections: None,
            shutdown_grace_seconds: default_shutdown_grace(),
        }
    }
}

impl ServerConfig {
    /// The connection limits these settings make.
    pub fn limits(&self) -> crate::server::Limits {
        let defaults = crate::server::Limits::default();
        crate::server::Limits {
            header_timeout: Duration::from_secs(self.header_timeout_seconds),
            body_timeout: Duration::from_secs(self.body_timeout_seconds),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
        }
    }

    /// The deadline of a whole request.
    pub fn request_deadline(&self) -> Duration {
        Duration::from_secs(self.request_deadline_seconds)
    }
}

fn default_header_timeout() -> u64 {
    15
}
fn default_body_timeout() -> u64 {
    5
}
fn default_request_deadline() -> u64 {
    10
}
fn default_shutdown_grace() -> u64 {
    10
}

/// What tokens callers may get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TokensConfig {
    /// The scopes a caller may ask for (default `chat`, `voip`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Token lifetime in minutes (60 to 1,440; default the service's 1,440).
    #[serde(default)]
    pub expires_in_minutes: Option<u32>,
    /// Answer with a still-fresh token minted earlier for the same user and
    /// scopes instead of minting one (default true).
    #[serde(default = "yes")]
    pub cache: bool,
    /// Tokens a user may get per minute (default 30; 0: no limit).
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_minute: u32,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            scopes: default_scopes(),
            expires_in_minutes: None,
            cache: true,
            rate_limit_per_minute: default_rate_limit(),
        }
    }
}

/// Browser origins allowed to call the service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// The whole configuration.
///
/// # Examples
///
/// ```
/// use acs_identity_token_service::Config;
///
/// let config = Config::from_toml(r#"
///     connection_string = "endpoint=https://contoso.communication.azure.com/;accesskey=a2V5"
///     [oidc]
///     issuer = "https://login.example.com/"
///     audience = "my-app"
/// "#)?;
/// assert_eq!(config.oidc.user_claim, "sub");
/// assert_eq!(config.tokens.scopes, ["chat", "voip"]);
/// # Ok::<(), acs_identity_token_service::ConfigError>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen (default `127.0.0.1:8090`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The Communication Services resource's connection string (better
    /// from `ACS_CONNECTION_STRING` or `COMMUNICATION_SERVICES_CONNECTION_STRING`).
    #[serde(default)]
    pub connection_string: Secret,
    /// Where `/readyz` and `/metrics` are served instead of `listen` (a
    /// private address for probes and scrapers); default: on `listen`.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// `text` (default) or `json`: one JSON object a line on stderr.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Stable (a store keeps the mapping) or preview (custom ids do).
    #[serde(default)]
    pub api_version: ApiVersion,
    /// `sqlite:PATH` (default `sqlite:acs-identity-token-service.db`) or a
    /// `postgres://` URL, for several instances behind a load balancer.
    #[serde(default = "default_store")]
    pub store: Secret,
    /// PostgreSQL connections kept by this instance (default 8).
    #[serde(default = "default_pool_size")]
    pub store_pool_size: usize,
    /// How callers are authenticated.
    pub oidc: OidcConfig,
    /// What tokens they may get.
    #[serde(default)]
    pub tokens: TokensConfig,
    /// Which browser origins may call.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Timeouts, the request deadline and the connection cap.
    #[serde(default)]
    pub server: ServerConfig,
    /// How Communication Services is reached: an access key or an Entra ID
    /// credential.
    #[serde(default)]
    pub acs: AcsConfig,
    /// Teams users (Custom Teams Endpoint apps): `POST /token/teams` is
    /// served when this is set.
    #[serde(default)]
    pub teams: Option<TeamsConfig>,
}

/// Teams users' token exchange (`[teams]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TeamsConfig {
    /// The Entra application (client id) the Teams users sign in to, with
    /// the delegated permissions `Teams.ManageCalls` and
    /// `Teams.ManageChats` of Azure Communication Services.
    pub client_id: String,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}
fn default_user_claim() -> String {
    "sub".into()
}
fn default_jwks_refresh() -> u64 {
    30
}
fn default_scopes() -> Vec<String> {
    vec!["chat".into(), "voip".into()]
}
fn default_rate_limit() -> u32 {
    30
}
fn default_pool_size() -> usize {
    crate::store::StoreOptions::default().pool_size
}
fn default_store() -> Secret {
    Secret::new("sqlite:acs-identity-token-service.db")
}
fn yes() -> bool {
    true
}

impl Config {
    /// The configuration in `text` (TOML), checked.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the setting.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "configuration".into(),
            message: e.message().to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// The file at `path`, then the environment over it, checked.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, the setting or the variable.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_defaults(path, &[])
    }

    /// As [`load`](Self::load), with `defaults` (`("oidc.issuer", "…")`,
    /// `("connection_string", "…")`) for what neither the file nor the
    /// environment sets.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, the setting or the variable.
    pub fn load_with_defaults(
        path: Option<&Path>,
        defaults: &[(&str, &str)],
    ) -> Result<Self, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.map_or_else(|| "configuration".into(), |p| p.display().to_string()),
            message: e.message().to_string(),
        })?;
        apply_env(&mut table, |name| std::env::var(name).ok());
        for (name, value) in defaults {
            let (section, key) = match name.split_once('.') {
                Some((section, key)) => (Some(section), key),
                None => (None, *name),
            };
            let target = match section {
                None => &mut table,
                Some(section) => match table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                {
                    toml::Value::Table(t) => t,
                    _ => continue,
                },
            };
            target
                .entry(key)
                .or_insert_with(|| toml::Value::String((*value).to_string()));
        }
        let config: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.map_or_else(|| "configuration".into(), |p| p.display().to_string()),
                message: e.message().to_string(),
            })?;
        config.check()?;
        Ok(config)
    }

    /// The store's options: the pool size, and claims stale once they are
    /// 5 s older than the request deadline (which bounds a live creation).
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            pool_size: self.store_pool_size,
            stale_claim: self.server.request_deadline() + Duration::from_secs(5),
            ..Default::default()
        }
    }

    /// How the service authenticates to ACS: `[acs] auth`, or the access key
    /// when only a connection string is set; `None` when neither is.
    pub fn acs_auth(&self) -> Option<AcsAuth> {
        self.acs
            .auth
            .or_else(|| (!self.connection_string.expose().is_empty()).then_some(AcsAuth::Key))
    }

    /// The endpoint for the Entra ID modes: `[acs] endpoint`, else the
    /// connection string's.
    pub fn acs_endpoint(&self) -> Option<String> {
        if let Some(endpoint) = self
            .acs
            .endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
        {
            return Some(endpoint.trim().to_string());
        }
        let parsed: acs_identity::ConnectionString =
            self.connection_string.expose().parse().ok()?;
        Some(parsed.endpoint().to_string())
    }

    /// The allowed scopes, parsed.
    pub fn allowed_scopes(&self) -> Vec<TokenScope> {
        self.tokens
            .scopes
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |name, message: &str| ConfigError::Invalid {
            name,
            message: message.to_string(),
        };
        match self.acs_auth() {
            None => {
                return Err(invalid(
                    "connection_string",
                    "missing: set ACS_CONNECTION_STRING or COMMUNICATION_SERVICES_CONNECTION_STRING (or connection_string in the file), or [acs] auth = \"managed-identity\" with ACS_ENDPOINT",
                ));
            }
            Some(AcsAuth::Key) if self.connection_string.expose().is_empty() => {
                return Err(invalid(
                    "connection_string",
                    "missing: [acs] auth = \"key\" needs ACS_CONNECTION_STRING or COMMUNICATION_SERVICES_CONNECTION_STRING (or connection_string in the file)",
                ));
            }
            Some(AcsAuth::Key) => {}
            Some(_) if self.acs_endpoint().is_none() => {
                return Err(invalid(
                    "acs.endpoint",
                    "missing: the Entra ID modes need the resource's endpoint (ACS_ENDPOINT or [acs] endpoint)",
                ));
            }
            Some(_) => {}
        }
        if self.oidc.issuer.is_empty()
            || (self.oidc.audience.is_empty() && self.oidc.audiences.is_empty())
        {
            return Err(invalid("oidc", "issuer and audience are required"));
        }
        if self.oidc.jwks_refresh_seconds < MIN_JWKS_REFRESH_SECONDS {
            return Err(ConfigError::Invalid {
                name: "oidc.jwks_refresh_seconds",
                message: format!(
                    "must be at least {MIN_JWKS_REFRESH_SECONDS} (each refresh is a fetch of the issuer's keys)"
                ),
            });
        }
        for (name, value) in [
            (
                "server.header_timeout_seconds",
                self.server.header_timeout_seconds,
            ),
            (
                "server.body_timeout_seconds",
                self.server.body_timeout_seconds,
            ),
            (
                "server.request_deadline_seconds",
                self.server.request_deadline_seconds,
            ),
            (
                "server.shutdown_grace_seconds",
                self.server.shutdown_grace_seconds,
            ),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(invalid(name, "must be 1 to 3600 seconds"));
            }
        }
        if let Some(teams) = &self.teams
            && teams.client_id.trim().is_empty()
        {
            return Err(invalid("teams.client_id", "must not be empty"));
        }
        if !(1..=1000).contains(&self.store_pool_size) {
            return Err(invalid("store_pool_size", "must be 1 to 1000"));
        }
        if self.server.max_connections == Some(0) {
            return Err(invalid("server.max_connections", "must be at least 1"));
        }
        for scope in &self.tokens.scopes {
            if !scope
                .parse::<TokenScope>()
                .is_ok_and(|s| TokenScope::KNOWN.contains(&s))
            {
                return Err(ConfigError::Invalid {
                    name: "tokens.scopes",
                    message: format!("{scope:?} is not a Communication Services scope"),
                });
            }
        }
        if self.tokens.scopes.is_empty() {
            return Err(invalid("tokens.scopes", "at least one scope is required"));
        }
        if let Some(m) = self.tokens.expires_in_minutes
            && !(60..=1440).contains(&m)
        {
            return Err(invalid("tokens.expires_in_minutes", "must be 60 to 1440"));
        }
        for origin in &self.cors.allowed_origins {
            let valid = ["https://", "http://"].iter().any(|scheme| {
                origin.strip_prefix(scheme).is_some_and(|rest| {
                    !rest.is_empty()
                        && !rest.contains('/')
                        && rest.chars().all(|c| c.is_ascii_graphic())
                })
            });
            if !valid {
                return Err(ConfigError::Invalid {
                    name: "cors.allowed_origins",
                    message: format!("{origin:?} is not an origin (scheme://host[:port], no path)"),
                });
            }
        }
        let store = self.store.expose();
        if !store.starts_with("sqlite:")
            && !store.starts_with("postgres://")
            && !store.starts_with("postgresql://")
        {
            return Err(invalid("store", "must start with sqlite: or postgres://"));
        }
        Ok(())
    }
}

/// Puts the environment's values into the file's table.
fn apply_env(table: &mut toml::Table, var: impl Fn(&str) -> Option<String>) {
    use toml::Value;
    let list = |v: String| {
        Value::Array(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )
    };
    let mut set = |section: Option<&str>, key: &str, value: Value| {
        let target = match section {
            None => &mut *table,
            Some(name) => match table
                .entry(name)
                .or_insert_with(|| Value::Table(toml::Table::new()))
            {
                Value::Table(t) => t,
                other => {
                    *other = Value::Table(toml::Table::new());
                    let Value::Table(t) = other else {
                        unreachable!("just set")
                    };
                    t
                }
            },
        };
        target.insert(key.to_string(), value);
    };
    // A later variable wins: ACS_CONNECTION_STRING over the quickstarts' name.
    for (variable, section, key) in [
        (
            "COMMUNICATION_SERVICES_CONNECTION_STRING",
            None,
            "connection_string",
        ),
        ("ACS_CONNECTION_STRING", None, "connection_string"),
        ("ACS_TS_LISTEN", None, "listen"),
        ("ACS_TS_ADMIN_LISTEN", None, "admin_listen"),
        ("ACS_TS_LOG_FORMAT", None, "log_format"),
        ("ACS_TS_API_VERSION", None, "api_version"),
        ("ACS_TS_STORE", None, "store"),
        ("ACS_ENDPOINT", Some("acs"), "endpoint"),
        ("ACS_TS_ACS_AUTH", Some("acs"), "auth"),
        (
            "ACS_TS_MANAGED_IDENTITY_CLIENT_ID",
            Some("acs"),
            "managed_identity_client_id",
        ),
        ("ACS_TS_OIDC_ISSUER", Some("oidc"), "issuer"),
        ("ACS_TS_OIDC_AUDIENCE", Some("oidc"), "audience"),
        ("ACS_TS_OIDC_JWKS_URI", Some("oidc"), "jwks_uri"),
        ("ACS_TS_USER_CLAIM", Some("oidc"), "user_claim"),
    ] {
        if let Some(v) = var(variable) {
            set(section, key, Value::String(v));
        }
    }
    if let Some(v) = var("ACS_TS_SCOPES") {
        set(Some("tokens"), "scopes", list(v));
    }
    if let Some(v) = var("ACS_TS_CACHE") {
        set(Some("tokens"), "cache", Value::Boolean(v.trim() != "false"));
    }
    if let Some(v) = var("ACS_TS_RATE_LIMIT")
        && let Ok(n) = v.trim().parse::<i64>()
    {
        set(Some("tokens"), "rate_limit_per_minute", Value::Integer(n));
    }
    if let Some(v) = var("ACS_TS_CORS_ORIGINS") {
        set(Some("cors"), "allowed_origins", list(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        connection_string = "endpoint=http://127.0.0.1:1/;accesskey=a2V5"
        [oidc]
        issuer = "https://issuer.example/"
        audience = "app"
    "#;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let c = Config::from_toml(MINIMAL).unwrap();
        assert_eq!(c.listen, default_listen());
        assert_eq!(c.api_version, ApiVersion::Stable);
        assert_eq!(c.tokens.rate_limit_per_minute, 30);
        assert!(c.tokens.cache);
        assert_eq!(c.allowed_scopes(), [TokenScope::Chat, TokenScope::Voip]);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut table: toml::Table = toml::from_str(MINIMAL).unwrap();
        apply_env(&mut table, |name| match name {
            "ACS_TS_SCOPES" => Some("chat, voip.join".into()),
            "ACS_TS_OIDC_AUDIENCE" => Some("other-app".into()),
            "ACS_TS_CACHE" => Some("false".into()),
            "ACS_TS_RATE_LIMIT" => Some("5".into()),
            "ACS_TS_CORS_ORIGINS" => Some("https://a.example,https://b.example".into()),
            _ => None,
        });
        let c: Config = table.try_into().unwrap();
        assert_eq!(c.tokens.scopes, ["chat", "voip.join"]);
        assert_eq!(c.oidc.audience, "other-app");
        assert!(!c.tokens.cache);
        assert_eq!(c.tokens.rate_limit_per_minute, 5);
        assert_eq!(c.cors.allowed_origins.len(), 2);
    }

    #[test]
    fn either_connection_string_variable_is_read_acs_first() {
        let read = |acs: Option<&str>, official: Option<&str>| {
            let mut table: toml::Table = toml::from_str(MINIMAL).unwrap();
            let (acs, official) = (acs.map(String::from), official.map(String::from));
            apply_env(&mut table, |name| match name {
                "ACS_CONNECTION_STRING" => acs.clone(),
                "COMMUNICATION_SERVICES_CONNECTION_STRING" => official.clone(),
                _ => None,
            });
            let c: Config = table.try_into().unwrap();
            c.connection_string.expose().to_string()
        };
        let acs = "endpoint=https://acs.example/;accesskey=YQ==";
        let official = "endpoint=https://official.example/;accesskey=Yg==";
        assert_eq!(read(None, Some(official)), official);
        assert_eq!(read(Some(acs), Some(official)), acs);
        assert_eq!(read(Some(acs), None), acs);
    }

    #[test]
    fn bad_values_are_named_and_secrets_never_shown() {
        let no_key = MINIMAL.replace("connection_string", "# connection_string");
        let e = Config::from_toml(&no_key).unwrap_err();
        assert!(e.to_string().contains("ACS_CONNECTION_STRING"), "{e}");
        let bad_scope = format!("{MINIMAL}\n[tokens]\nscopes = [\"pstn\"]");
        assert!(
            Config::from_toml(&bad_scope)
                .unwrap_err()
                .to_string()
                .contains("pstn")
        );
        let c = Config::from_toml(MINIMAL).unwrap();
        assert!(!format!("{c:?}").contains("a2V5"));
        let bad_store = MINIMAL.replacen(
            "connection_string",
            "store = \"mysql://x\"\nconnection_string",
            1,
        );
        assert!(
            Config::from_toml(&bad_store)
                .unwrap_err()
                .to_string()
                .starts_with("store")
        );
    }
}
