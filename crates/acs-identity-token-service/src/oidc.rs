//! Verifies the callers' sign-in tokens: OpenID Connect JWTs, checked
//! against the issuer's published keys (JWKS).
//!
//! A token is accepted when its `alg` is an asymmetric one (RS*, PS*,
//! ES256/384, EdDSA; never `none` or HS*), its `kid` names a key of the
//! issuer's JWKS whose own `alg` (when it states one) is the same, the
//! signature verifies, `iss` and `aud` are exactly the configured ones,
//! `exp` has not passed and `nbf` (when present) has (a minute of leeway for
//! clock skew), and the configured user claim is a non-empty string of at
//! most 256 characters without control characters. Keys whose `use` or
//! `key_ops` exclude verifying signatures are ignored.
//!
//! A verified token is remembered (by its SHA-256) until its `exp`, for at
//! most [`VERIFIED_FOR`]: the same token sent again, as an app does for
//! every token refresh, costs a hash and a lookup instead of a signature
//! check. `exp` and `nbf` are checked on every use.
//!
//! The keys are fetched on first use, again when a token names a `kid` they
//! do not have (the issuer rotated its keys; at most once per
//! `jwks_refresh_seconds`, so a flood of made-up `kid`s cannot turn into a
//! flood of fetches) and when they are older than an hour.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{JwkSet, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::OidcConfig;

/// The algorithms a sign-in token may use.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The longest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 1 << 20;

/// Keys older than this are fetched again before use.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// How long a verified token is remembered at most (its `exp` is always
/// checked too): also how long a token stays accepted after its key is
/// withdrawn from the issuer's JWKS.
pub const VERIFIED_FOR: Duration = Duration::from_secs(300);

/// The most verified tokens remembered.
const VERIFIED_CAPACITY: u64 = 100_000;

/// What is remembered of a verified token.
#[derive(Clone)]
struct Verified {
    user: Arc<str>,
    exp: i64,
    nbf: Option<i64>,
}

/// The longest app user id (the preview custom id's limit).
pub const MAX_USER_CHARS: usize = 256;

/// Why a sign-in token was refused. Its [`reason`](Self::reason) is what the
/// request log and the `refusals` metric say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a JWT, or claims of the wrong type.
    Malformed,
    /// An algorithm that is not allowed (`none`, HS256, …).
    Algorithm,
    /// No key of the issuer has the token's `kid`.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come yet.
    NotYetValid,
    /// Another issuer.
    Issuer,
    /// Another audience.
    Audience,
    /// None of the required scopes (`scp`) or roles (`roles`): an ID token,
    /// an app-only token, or a token for another purpose.
    Permission,
    /// The client application (`azp`/`appid`) is not one allowed to call.
    Client,
    /// The user claim is missing, empty, too long, or holds a control
    /// character (NUL among them) the store cannot keep.
    User,
    /// The issuer's keys could not be fetched (the service's problem, not
    /// the caller's: answered 503).
    KeysUnavailable,
}

impl Refusal {
    /// A short name: `missing`, `malformed`, `algorithm`, `unknown_key`,
    /// `signature`, `expired`, `not_yet_valid`, `issuer`, `audience`,
    /// `permission`, `client`,
    /// `user`, `keys_unavailable`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Algorithm => "algorithm",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Signature => "signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Issuer => "issuer",
            Refusal::Audience => "audience",
            Refusal::Permission => "permission",
            Refusal::Client => "client",
            Refusal::User => "user",
            Refusal::KeysUnavailable => "keys_unavailable",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Missing => "no bearer token",
            Refusal::Malformed => "the token is not a valid JWT",
            Refusal::Algorithm => "the token's algorithm is not allowed",
            Refusal::UnknownKey => "the token's key is not one of the issuer's",
            Refusal::Signature => "the token's signature does not verify",
            Refusal::Expired => "the token has expired",
            Refusal::NotYetValid => "the token is not valid yet",
            Refusal::Issuer => "the token is from another issuer",
            Refusal::Audience => "the token is for another audience",
            Refusal::Permission => "the token carries none of the required scopes or roles",
            Refusal::Client => "the token's client application may not call this service",
            Refusal::User => "the token does not name a user",
            Refusal::KeysUnavailable => "the issuer's keys could not be fetched",
        })
    }
}

/// One usable key of the issuer.
struct Key {
    key: DecodingKey,
    /// The `alg` the JWK states, when it does.
    alg: Option<String>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<Key>>,
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last attempt, successful or not.
    attempted: Option<Instant>,
}

impl Keys {
    fn usable(&self) -> Result<(), Refusal> {
        if self.fetched.is_some() {
            Ok(())
        } else {
            Err(Refusal::KeysUnavailable)
        }
    }
}

/// Verifies sign-in tokens for one issuer and audience.
pub struct Verifier {
    issuer: String,
    audiences: Vec<String>,
    required_scopes: Vec<String>,
    required_roles: Vec<String>,
    allowed_client_ids: Vec<String>,
    user_claim: String,
    jwks_uri: Option<String>,
    min_refresh: Duration,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// One fetch at a time; the others wait for it and use its keys.
    fetching: tokio::sync::Mutex<()>,
    /// Tokens verified lately, by their SHA-256.
    verified: moka::sync::Cache<[u8; 32], Verified>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("user_claim", &self.user_claim)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `config`; keys are fetched on first use.
    pub fn new(config: &OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuer: config.issuer.clone(),
            audiences: std::iter::once(&config.audience)
                .chain(&config.audiences)
                .filter(|a| !a.is_empty())
                .cloned()
                .collect(),
            required_scopes: config.required_scopes.clone(),
            required_roles: config.required_roles.clone(),
            allowed_client_ids: config.allowed_client_ids.clone(),
            user_claim: config.user_claim.clone(),
            jwks_uri: config.jwks_uri.clone(),
            min_refresh: Duration::from_secs(config.jwks_refresh_seconds),
            http,
            keys: RwLock::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_FOR)
                .build(),
        }
    }

    /// The app user a valid `token` names.
    pub async fn verify(&self, token: &str) -> Result<String, Refusal> {
        let digest: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
                .as_ref()
                .try_into()
                .map_err(|_| Refusal::Malformed)?;
        if let Some(known) = self.verified.get(&digest) {
            let now = chrono::Utc::now().timestamp();
            let leeway = LEEWAY_SECS as i64;
            if known.exp.saturating_add(leeway) <= now {
                self.verified.invalidate(&digest);
                return Err(Refusal::Expired);
            }
            if known
                .nbf
                .is_some_and(|nbf| nbf.saturating_sub(leeway) > now)
            {
                return Err(Refusal::NotYetValid);
            }
            return Ok(known.user.to_string());
        }
        let verified = self.verify_signed(token).await?;
        let user = verified.user.to_string();
        self.verified.insert(digest, verified);
        Ok(user)
    }

    /// Verifies `token`'s signature and claims.
    async fn verify_signed(&self, token: &str) -> Result<Verified, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        if !ALLOWED.contains(&header.alg) {
            return Err(Refusal::Algorithm);
        }
        let kid = header.kid.as_deref().ok_or(Refusal::UnknownKey)?;
        let key = self.key(kid).await?;
        let alg_name = algorithm_name(header.alg);
        if key.alg.as_deref().is_some_and(|a| a != alg_name) {
            return Err(Refusal::Algorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| refusal(e.kind()))?;
        self.permitted(&data.claims)?;
        let user = match data.claims.get(&self.user_claim) {
            Some(Value::String(user)) if storable_user(user) => Arc::<str>::from(user.as_str()),
            _ => return Err(Refusal::User),
        };
        let exp = data
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(Refusal::Malformed)?;
        let nbf = data.claims.get("nbf").and_then(Value::as_i64);
        Ok(Verified { user, exp, nbf })
    }

    /// The deployment's conditions on who may call: a required scope or
    /// role, an allowed client application.
    fn permitted(&self, claims: &Map<String, Value>) -> Result<(), Refusal> {
        if !self.required_scopes.is_empty() || !self.required_roles.is_empty() {
            let scopes = claims.get("scp").and_then(Value::as_str).unwrap_or("");
            let has_scope = scopes
                .split(' ')
                .any(|s| self.required_scopes.iter().any(|r| r == s));
            let has_role = claims
                .get("roles")
                .and_then(Value::as_array)
                .is_some_and(|roles| {
                    roles
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|r| self.required_roles.iter().any(|w| w == r))
                });
            if !has_scope && !has_role {
                return Err(Refusal::Permission);
            }
        }
        if !self.allowed_client_ids.is_empty() {
            let client = claims
                .get("azp")
                .or_else(|| claims.get("appid"))
                .and_then(Value::as_str);
            if !client.is_some_and(|c| self.allowed_client_ids.iter().any(|a| a == c)) {
                return Err(Refusal::Client);
            }
        }
        Ok(())
    }

    /// Whether keys can be had (for `/readyz`): fetched and fresh, or
    /// fetched now, or kept from an earlier fetch while the issuer is down.
    pub async fn ready(&self) -> bool {
        self.refresh(None).await.is_ok()
    }

    /// The key named `kid`, fetching the keys when they are missing, old or
    /// lack it.
    async fn key(&self, kid: &str) -> Result<Arc<Key>, Refusal> {
        if self.keys_are_fresh()
            && let Some(key) = self.lookup(kid)
        {
            return Ok(key);
        }
        self.refresh(Some(kid)).await?;
        self.lookup(kid).ok_or(Refusal::UnknownKey)
    }

    fn lookup(&self, kid: &str) -> Option<Arc<Key>> {
        self.read().by_kid.get(kid).cloned()
    }

    fn keys_are_fresh(&self) -> bool {
        self.read()
            .fetched
            .is_some_and(|at| at.elapsed() < MAX_KEY_AGE)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches the keys unless they are fresh and have `kid`, or the last
    /// attempt is more recent than the refresh interval. `Ok` when keys are
    /// there to use (maybe old ones, while the issuer is unreachable).
    async fn refresh(&self, kid: Option<&str>) -> Result<(), Refusal> {
        let _one = self.fetching.lock().await;
        {
            let keys = self.read();
            let fresh = keys.fetched.is_some_and(|at| at.elapsed() < MAX_KEY_AGE);
            if fresh && kid.is_none_or(|k| keys.by_kid.contains_key(k)) {
                return Ok(());
            }
            if keys
                .attempted
                .is_some_and(|at| at.elapsed() < self.min_refresh)
            {
                return keys.usable();
            }
        }
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .attempted = Some(Instant::now());
        match self.fetch().await {
            Ok(by_kid) => {
                let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
                keys.by_kid = by_kid;
                keys.fetched = Some(Instant::now());
                Ok(())
            }
            Err(message) => {
                tracing::warn!(issuer = %self.issuer, "the issuer's keys could not be fetched: {message}");
                self.read().usable()
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<Key>>, String> {
        let uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let document: Value = self.get_json(&discovery).await?;
                document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the discovery document has no jwks_uri")?
                    .to_string()
            }
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&uri).await?)
            .map_err(|e| format!("not a JWKS: {e}"))?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = &jwk.common.key_id else {
                continue;
            };
            if !for_verifying(&jwk.common) {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            by_kid.insert(kid.clone(), Arc::new(Key { key, alg }));
        }
        Ok(by_kid)
    }

    /// GETs a JSON document: https (or http to a loopback host), at most
    /// [`MAX_DOCUMENT`] bytes, no redirects.
    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        if !secure_url(&parsed) {
            return Err(format!("{url}: https is required (http only to loopback)"));
        }
        let mut response = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: status {}", response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("{url}: longer than {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
    }
}

/// Whether a JWK may verify signatures: its `use`, when stated, is `sig`,
/// and its `key_ops`, when stated, include `verify`.
fn for_verifying(common: &jsonwebtoken::jwk::CommonParameters) -> bool {
    let use_ok = match &common.public_key_use {
        None | Some(PublicKeyUse::Signature) => true,
        Some(_) => false,
    };
    let ops_ok = common
        .key_operations
        .as_ref()
        .is_none_or(|ops| ops.contains(&KeyOperations::Verify));
    use_ok && ops_ok
}

/// Whether the store can hold `user` as a key: not blank, at most
/// [`MAX_USER_CHARS`] characters, no NUL (PostgreSQL's text refuses it) and
/// no other control character (it would only confuse logs and support).
pub(crate) fn storable_user(user: &str) -> bool {
    !user.trim().is_empty()
        && user.chars().count() <= MAX_USER_CHARS
        && !user.chars().any(char::is_control)
}

/// https, or http to a loopback host.
pub(crate) fn secure_url(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn algorithm_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn refusal(kind: &jsonwebtoken::errors::ErrorKind) -> Refusal {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => Refusal::Expired,
        K::ImmatureSignature => Refusal::NotYetValid,
        K::InvalidIssuer => Refusal::Issuer,
        K::InvalidAudience => Refusal::Audience,
        K::InvalidSignature => Refusal::Signature,
        K::InvalidAlgorithm | K::InvalidAlgorithmName => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(extra: Value) -> jsonwebtoken::jwk::CommonParameters {
        let mut jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        });
        jwk.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk)
            .unwrap()
            .common
    }

    #[test]
    fn keys_whose_use_or_operations_exclude_verifying_are_ignored() {
        use serde_json::json;
        assert!(for_verifying(&common(json!({}))));
        assert!(for_verifying(&common(json!({"use": "sig"}))));
        assert!(for_verifying(&common(json!({"key_ops": ["verify"]}))));
        assert!(for_verifying(&common(
            json!({"key_ops": ["sign", "verify"]})
        )));
        assert!(!for_verifying(&common(json!({"use": "enc"}))));
        assert!(!for_verifying(&common(json!({"key_ops": ["encrypt"]}))));
        assert!(!for_verifying(&common(json!({"key_ops": []}))));
        assert!(!for_verifying(&common(
            json!({"use": "sig", "key_ops": ["wrapKey"]})
        )));
    }

    #[test]
    fn users_the_store_cannot_hold_are_refused() {
        assert!(storable_user("alice@contoso.com"));
        assert!(storable_user(&"é".repeat(MAX_USER_CHARS)));
        assert!(!storable_user(&"é".repeat(MAX_USER_CHARS + 1)));
        assert!(!storable_user("nul\0inside"));
        assert!(!storable_user("line\nbreak"));
        assert!(!storable_user("  "));
    }
}
