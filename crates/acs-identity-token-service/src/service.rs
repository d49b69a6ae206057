//! The HTTP API and the way a request goes: authenticate the caller, check
//! the scopes and the rate limit, answer from the cache or map the user to
//! an ACS identity and mint a token.
//!
//! | request | answer |
//! |---|---|
//! | `POST /token` `{"scopes": ["chat"]}` (body optional: all allowed scopes) | 200 `{"userId", "token", "expiresOn"}` |
//! | `POST /token/revoke` | 204: the caller's tokens are revoked |
//! | `DELETE /user` | 204: the caller's ACS identity is deleted and its mapping forgotten (erasure); again: 204 |
//! | `GET /healthz` | 200 `{"status": "ok"}` while the process serves |
//! | `GET /readyz` | 200 or 503 `{"status", "store", "issuer", "acs"}` |
//! | `GET /metrics` | Prometheus metrics ([`crate::metrics`]) |
//!
//! With `admin_listen` set, `/readyz` and `/metrics` are served on that
//! address only (with `/healthz`), and the public listener keeps `/healthz`.
//!
//! Errors are `{"error": {"code", "message"}}`: 400 `InvalidBody`, 401
//! `InvalidToken` (with `WWW-Authenticate: Bearer`), 403 `ScopeNotAllowed`,
//! 408 `RequestTimeout` (the body did not arrive within the body timeout),
//! 413 `BodyTooLarge`, 429 `TooManyRequests` (with `Retry-After`), 502
//! `UpstreamFailed`, 503 `IssuerUnavailable`, `StoreUnavailable`, `Busy`,
//! `UpstreamBusy` (Communication Services asked for a wait: its
//! `Retry-After` is passed on), `UpstreamUnavailable` or `DeadlineExceeded`
//! (the request deadline passed), each with `Retry-After`.
//!
//! Every request runs under the deadline of `[server]
//! request_deadline_seconds`: it covers reading the body, the store and
//! every call to Communication Services with its retries. A first-time
//! creation runs in a task of its own, so a deadline or a caller that goes
//! away never leaves a claimed mapping half-made: the creation finishes (or
//! gives its claim back) within the client's own deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_identity::{
    AccessToken, ApiFamily, CommunicationIdentityClient, CommunicationUserIdentifier,
    IdentityClient, TokenScope, preview,
};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::cache::{Cached, TokenCache};
use crate::error::{ApiError, Reason};
use crate::metrics::Metrics;
use crate::oidc::{Refusal, Verifier};
use crate::store::{Claim, Store};

/// The largest request body read.
const MAX_BODY: usize = 16 * 1024;

/// The longest `Authorization` header read.
const MAX_AUTHORIZATION: usize = 16 * 1024;

/// How long a request waits for another one to create the same user's
/// identity before answering 503.
const MAPPING_WAIT: Duration = Duration::from_secs(15);

/// How long a readiness answer is reused.
pub const READY_FOR: Duration = Duration::from_secs(5);

/// The client of either api-version.
#[derive(Debug, Clone)]
pub(crate) enum Acs {
    /// Stable: the store keeps the mapping.
    Stable(CommunicationIdentityClient, Store),
    /// Preview: the custom id keeps it.
    Preview(preview::CommunicationIdentityClient),
}

/// Everything a request needs.
#[derive(Debug)]
pub(crate) struct Inner {
    pub acs: Acs,
    pub verifier: Verifier,
    pub allowed: Vec<TokenScope>,
    pub expires_in: Option<Duration>,
    pub cache: Option<TokenCache>,
    pub limit: crate::limit::RateLimit,
    pub metrics: Metrics,
    /// The last readiness answer. Held across a probe, so concurrent
    /// callers wait for one probe and share its answer.
    pub ready: tokio::sync::Mutex<Option<(Instant, bool, serde_json::Value)>>,
    /// App users' ACS identities seen lately (stable api-version): a
    /// mapping never changes but when its identity is deleted, which the
    /// next token request finds out (404) and corrects.
    pub mappings: moka::sync::Cache<String, Arc<str>>,
    /// `[teams] client_id`: the Entra application of the Custom Teams
    /// Endpoint app; `POST /token/teams` answers 404 without it.
    pub teams_client_id: Option<String>,
    /// The deadline of a whole request.
    pub deadline: Duration,
    /// The longest wait for a request body.
    pub body_timeout: Duration,
}

/// The router over `inner`, with CORS for `origins`; with `operations`,
/// `/readyz` and `/metrics` too (else they are served by
/// [`admin_router`] only).
pub(crate) fn router(inner: Arc<Inner>, origins: &[HeaderValue], operations: bool) -> Router {
    let mut routes = Router::new()
        .route("/token", post(token))
        .route("/token/revoke", post(revoke))
        .route("/user", axum::routing::delete(erase))
        .route("/token/teams", post(teams_token))
        .route("/healthz", get(healthz));
    if operations {
        routes = routes
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics));
    }
    let mut router = routes
        .layer(middleware::from_fn_with_state(
            Arc::clone(&inner),
            within_deadline,
        ))
        .with_state(inner);
    if !origins.is_empty() {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins.iter().cloned()))
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600)),
        );
    }
    router.layer(middleware::from_fn(log))
}

/// The operations router (`admin_listen`): `/healthz`, `/readyz` and
/// `/metrics`, for probes and scrapers on a private port.
pub(crate) fn admin_router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&inner),
            within_deadline,
        ))
        .with_state(inner)
        .layer(middleware::from_fn(log))
}

/// One line per request: method, path, status, milliseconds and, for a
/// refusal, its reason. Never a header, a token or a body.
async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let reason = response.extensions().get::<Reason>().map(|r| r.0);
    tracing::info!(
        target: "acs_identity_token_service::requests",
        %method,
        // Debug formatting escapes control characters a caller may send.
        path = ?path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        reason = reason.unwrap_or(""),
    );
    response
}

/// Runs the request under the service's deadline: past it the caller gets
/// 503 `DeadlineExceeded` with `Retry-After`, within the deadline.
async fn within_deadline(
    State(inner): State<Arc<Inner>>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(inner.deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "DeadlineExceeded",
                "deadline",
                format!(
                    "the request could not be completed within {} s; try again",
                    inner.deadline.as_secs()
                ),
            );
            e.retry_after = Some(1);
            inner.refuse(e).into_response()
        }
    }
}

/// The request body, at most [`MAX_BODY`] bytes, read within the body
/// timeout.
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            "body",
            format!("the body must be at most {MAX_BODY} bytes"),
        )),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBody",
            "body",
            "the body could not be read".into(),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            "body_timeout",
            format!("the body did not arrive within {} s", timeout.as_secs()),
        )),
    }
}

impl Inner {
    /// The caller's app user, from its verified sign-in token.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let result = match bearer(headers) {
            None => Err(Refusal::Missing),
            Some(token) => self.verifier.verify(token).await,
        };
        result.map_err(|refusal| {
            self.metrics.refused(refusal.reason());
            ApiError::refused(refusal)
        })
    }

    /// Counts a token request of `key` against the per-user rate limit:
    /// 429 with `Retry-After` past it.
    fn within_limit(&self, key: &str) -> Result<(), ApiError> {
        self.limit.check(key, Instant::now()).map_err(|wait| {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "rate_limit",
                "too many tokens for this user; try again later".into(),
            );
            e.retry_after = Some(wait.as_secs().max(1));
            e
        })
    }

    fn refuse(&self, e: ApiError) -> ApiError {
        self.metrics.refused(e.reason);
        e
    }

    /// Times a call to Communication Services.
    async fn call<T>(
        &self,
        f: impl Future<Output = acs_identity::Result<T>>,
    ) -> acs_identity::Result<T> {
        let started = Instant::now();
        let result = f.await;
        self.metrics.acs_call(started.elapsed(), result.is_ok());
        result
    }

    /// A new token of `user` for `scopes`, and its ACS identity.
    async fn mint(self: &Arc<Self>, user: &str, scopes: &[TokenScope]) -> Result<Cached, ApiError> {
        match &self.acs {
            Acs::Preview(client) => {
                let mut create = client
                    .create_user_and_token(scopes.iter().cloned())
                    .custom_id(user);
                if let Some(lifetime) = self.expires_in {
                    create = create.expires_in(lifetime);
                }
                let created = self
                    .call(create.into_future())
                    .await
                    .map_err(|e| ApiError::acs(&e))?;
                Ok(Cached {
                    acs_id: created.user.id().to_string(),
                    token: created.access_token,
                })
            }
            Acs::Stable(client, store) => {
                // A mapping to an identity deleted in ACS is dropped and made
                // again, once.
                for _ in 0..2 {
                    let mapped = match self.mappings.get(user) {
                        Some(id) => Mapped::Existing(id.to_string()),
                        None => self.map(client, store, user, scopes).await?,
                    };
                    let acs_id = match mapped {
                        Mapped::Created(cached) => {
                            self.mappings
                                .insert(user.to_string(), cached.acs_id.as_str().into());
                            return Ok(cached);
                        }
                        Mapped::Existing(id) => id,
                    };
                    let identity = CommunicationUserIdentifier::new(acs_id.clone())
                        .map_err(|e| ApiError::acs(&e))?;
                    match self
                        .call(get_token(client, &identity, scopes, self.expires_in))
                        .await
                    {
                        Ok(token) => {
                            if !self.mappings.contains_key(user) {
                                self.mappings
                                    .insert(user.to_string(), acs_id.as_str().into());
                            }
                            return Ok(Cached { acs_id, token });
                        }
                        Err(e) if e.is_not_found() => {
                            tracing::warn!(
                                "the identity of an app user was deleted in ACS; mapping it again"
                            );
                            self.mappings.invalidate(user);
                            store
                                .forget(user, &acs_id)
                                .await
                                .map_err(|e| ApiError::store(&e))?;
                        }
                        Err(e) => return Err(ApiError::acs(&e)),
                    }
                }
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "busy",
                    "the user's identity keeps disappearing; try again later".into(),
                ))
            }
        }
    }

    /// The user's ACS identity from the store, created (with a first token)
    /// when the user has none. Exactly one request across all instances
    /// creates it; the others wait for it.
    async fn map(
        self: &Arc<Self>,
        client: &CommunicationIdentityClient,
        store: &Store,
        user: &str,
        scopes: &[TokenScope],
    ) -> Result<Mapped, ApiError> {
        let deadline = Instant::now() + MAPPING_WAIT;
        let mut pause = Duration::from_millis(10);
        loop {
            match store.claim(user).await.map_err(|e| ApiError::store(&e))? {
                Claim::Mapped(id) => return Ok(Mapped::Existing(id)),
                claim @ (Claim::Won | Claim::TakenOver) => {
                    if claim == Claim::TakenOver {
                        self.metrics.possibly_orphaned();
                        tracing::warn!(
                            "took over a stale claim (its instance died or was cut off mid-creation): one ACS identity may be orphaned"
                        );
                    }
                    // In a task of its own, so that the request's deadline
                    // or a caller that goes away cannot cut the creation
                    // off between ACS and the store.
                    let created = tokio::spawn(create_mapped(
                        Arc::clone(self),
                        client.clone(),
                        store.clone(),
                        user.to_string(),
                        scopes.to_vec(),
                    ))
                    .await
                    .map_err(|e| {
                        tracing::error!("the creation task failed: {e}");
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "InternalError",
                            "internal",
                            "the identity could not be created; try again".into(),
                        )
                    })??;
                    if let Some(cached) = created {
                        return Ok(Mapped::Created(cached));
                    }
                }
                Claim::Pending => {
                    if Instant::now() >= deadline {
                        let mut e = ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "Busy",
                            "busy",
                            "the user's identity is still being created; try again".into(),
                        );
                        e.retry_after = Some(1);
                        return Err(e);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// The caller's ACS identity, if it has one: the store's mapping
    /// (stable), or the identity its custom id names (preview; creating is
    /// idempotent, so this makes one for a user never seen).
    async fn identity_of(
        &self,
        user: &str,
    ) -> Result<Option<CommunicationUserIdentifier>, ApiError> {
        let acs_id = match &self.acs {
            Acs::Stable(_, store) => match self.mappings.get(user) {
                Some(id) => Some(id.to_string()),
                None => store.lookup(user).await.map_err(|e| ApiError::store(&e))?,
            },
            Acs::Preview(client) => {
                let identity = self
                    .call(
                        client
                            .create_user()
                            .custom_id(user.to_string())
                            .into_future(),
                    )
                    .await
                    .map_err(|e| ApiError::acs(&e))?;
                return Ok(Some(identity));
            }
        };
        acs_id
            .map(|id| CommunicationUserIdentifier::new(id).map_err(|e| ApiError::acs(&e)))
            .transpose()
    }

    /// Readiness: the store answers, the issuer's keys can be had, and
    /// Communication Services answers with the configured key (any answer
    /// but 401 says the endpoint is there and the key accepted).
    ///
    /// One probe at a time: concurrent callers wait for it and share its
    /// answer, which is reused for [`READY_FOR`], so any number of calls
    /// cost at most one request to ACS per period.
    async fn readiness(&self) -> (bool, serde_json::Value) {
        let mut last = self.ready.lock().await;
        if let Some((at, ok, body)) = &*last
            && at.elapsed() < READY_FOR
        {
            return (*ok, body.clone());
        }
        let store = match &self.acs {
            Acs::Stable(_, store) => match store.ping().await {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    tracing::warn!("{e}");
                    "unavailable".to_string()
                }
            },
            Acs::Preview(_) => "none (preview: custom ids)".to_string(),
        };
        let issuer = if self.verifier.ready().await {
            "ok"
        } else {
            "unavailable"
        };
        const NOBODY: &str = "00000000-0000-0000-0000-000000000000";
        let probe = match &self.acs {
            Acs::Stable(c, _) => c.get_teams_extension_assignment(NOBODY, NOBODY).await,
            Acs::Preview(c) => c.get_teams_extension_assignment(NOBODY, NOBODY).await,
        };
        let acs = match probe {
            Ok(_) => "ok",
            Err(e) if e.status().is_some_and(|s| s != 401 && s != 403) => "ok",
            Err(e) if e.status().is_some() => "key refused",
            Err(_) => "unreachable",
        };
        let ok = !store.ends_with("unavailable") && issuer == "ok" && acs == "ok";
        let body = json!({
            "status": if ok { "ready" } else { "not ready" },
            "store": store,
            "issuer": issuer,
            "acs": acs,
        });
        *last = Some((Instant::now(), ok, body.clone()));
        (ok, body)
    }
}

enum Mapped {
    Existing(String),
    Created(Cached),
}

/// Creates the identity of a won claim and fills the claim in; gives the
/// claim back when the creation fails. `None` when the claim went stale
/// and another request took it over meanwhile: its identity stands and
/// ours is deleted.
async fn create_mapped(
    inner: Arc<Inner>,
    client: CommunicationIdentityClient,
    store: Store,
    user: String,
    scopes: Vec<TokenScope>,
) -> Result<Option<Cached>, ApiError> {
    let mut create = client.create_user_and_token(scopes);
    if let Some(lifetime) = inner.expires_in {
        create = create.expires_in(lifetime);
    }
    let created = match inner.call(create.into_future()).await {
        Ok(created) => created,
        Err(e) => {
            if let Err(e) = store.release(&user).await {
                tracing::warn!("{e}");
            }
            return Err(ApiError::acs(&e));
        }
    };
    inner.metrics.created();
    let acs_id = created.user.id().to_string();
    if store
        .complete(&user, &acs_id)
        .await
        .map_err(|e| ApiError::store(&e))?
    {
        return Ok(Some(Cached {
            acs_id,
            token: created.access_token,
        }));
    }
    if let Err(e) = inner.call(client.delete_user(&created.user)).await {
        tracing::warn!(%e, "could not delete a surplus identity");
    }
    Ok(None)
}

async fn get_token<V: ApiFamily>(
    client: &IdentityClient<V>,
    user: &CommunicationUserIdentifier,
    scopes: &[TokenScope],
    expires_in: Option<Duration>,
) -> acs_identity::Result<AccessToken> {
    let mut call = client.get_token(user, scopes.iter().cloned());
    if let Some(lifetime) = expires_in {
        call = call.expires_in(lifetime);
    }
    call.await
}

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?;
    if value.len() > MAX_AUTHORIZATION {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// The scopes asked for: all allowed ones when the body names none; each
/// must be allowed here.
fn requested_scopes(body: &[u8], allowed: &[TokenScope]) -> Result<Vec<TokenScope>, ApiError> {
    let names = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let request: TokenRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidBody",
                "body",
                format!("the body must be {{\"scopes\": [...]}} or empty: {e}"),
            )
        })?;
        request.scopes
    };
    let Some(names) = names else {
        return Ok(allowed.to_vec());
    };
    if names.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBody",
            "body",
            "scopes must name at least one scope".into(),
        ));
    }
    let mut scopes = Vec::new();
    for name in names {
        let scope = name
            .parse::<TokenScope>()
            .ok()
            .filter(|s| allowed.contains(s))
            .ok_or_else(|| {
                let allowed: Vec<&str> = allowed.iter().map(TokenScope::as_str).collect();
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "ScopeNotAllowed",
                    "scope",
                    format!(
                        "scope {:?} is not allowed here; allowed: {}",
                        name.chars().take(64).collect::<String>(),
                        allowed.join(", ")
                    ),
                )
            })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Body) -> Response {
    match issue(&inner, &headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn issue(
    inner: &Arc<Inner>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = inner.authenticate(headers).await?;
    let body = read_body(body, inner.body_timeout)
        .await
        .map_err(|e| inner.refuse(e))?;
    let scopes = requested_scopes(&body, &inner.allowed).map_err(|e| inner.refuse(e))?;
    inner.within_limit(&user).map_err(|e| inner.refuse(e))?;
    let names: Vec<&str> = scopes.iter().map(TokenScope::as_str).collect();
    let now = Utc::now();
    if let Some(cached) = inner.cache.as_ref().and_then(|c| c.get(&user, &names, now)) {
        inner.metrics.issued(true);
        return Ok(answer(&cached));
    }
    let minted = inner.mint(&user, &scopes).await?;
    inner.metrics.issued(false);
    if let Some(cache) = &inner.cache {
        cache.put(&user, &names, minted.clone(), now);
    }
    Ok(answer(&minted))
}

fn answer(cached: &Cached) -> Json<serde_json::Value> {
    Json(json!({
        "userId": cached.acs_id,
        "token": cached.token.token(),
        "expiresOn": cached.token.expires_on().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}

/// `POST /token/revoke`: the caller's tokens stop working.
async fn revoke(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let result = async {
        let user = inner.authenticate(&headers).await?;
        if let Some(cache) = &inner.cache {
            cache.forget(&user);
        }
        let Some(identity) = inner.identity_of(&user).await? else {
            return Ok(());
        };
        let revoked = match &inner.acs {
            Acs::Stable(client, _) => inner.call(client.revoke_tokens(&identity)).await,
            Acs::Preview(client) => inner.call(client.revoke_tokens(&identity)).await,
        };
        match revoked {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(ApiError::acs(&e)),
        }
    }
    .await;
    no_content(result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamsTokenRequest {
    token: String,
}

/// `POST /token/teams` `{"token": "<the Teams user's Entra access token for
/// ACS>"}`: the token is exchanged for an ACS token of that Teams user
/// (`[teams] client_id` is the app, the token's `oid` the user). ACS
/// verifies the Entra token; its refusals reach the caller as 401 or 400
/// with ACS's code.
async fn teams_token(State(inner): State<Arc<Inner>>, body: Body) -> Response {
    let result = async {
        let Some(client_id) = inner.teams_client_id.as_deref() else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "teams_off",
                "Teams users are not configured here ([teams] client_id)".into(),
            ));
        };
        let body = read_body(body, inner.body_timeout).await?;
        let invalid = |message: String| {
            ApiError::new(StatusCode::BAD_REQUEST, "InvalidBody", "body", message)
        };
        let request: TeamsTokenRequest = serde_json::from_slice(&body)
            .map_err(|e| invalid(format!("the body must be {{\"token\": \"...\"}}: {e}")))?;
        let claims = acs_identity::EntraTokenClaims::decode(&request.token)
            .map_err(|e| invalid(format!("token: {e}")))?;
        let object_id = claims
            .object_id
            .filter(|oid| crate::oidc::storable_user(oid))
            .ok_or_else(|| invalid("token: no usable oid (the Teams user's object id)".into()))?;
        inner.within_limit(&format!("teams:{object_id}"))?;
        let options =
            acs_identity::GetTokenForTeamsUserOptions::new(request.token, client_id, object_id);
        let exchanged = match &inner.acs {
            Acs::Stable(client, _) => inner.call(client.get_token_for_teams_user(&options)).await,
            Acs::Preview(client) => inner.call(client.get_token_for_teams_user(&options)).await,
        };
        let token = exchanged.map_err(|e| match e.status() {
            Some(status @ (400 | 401 | 403)) => {
                let code = e.code().unwrap_or("InvalidAccessToken");
                ApiError::new(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    teams_code(code),
                    "teams_refused",
                    "Communication Services refused the Teams user's token".into(),
                )
            }
            None if matches!(e, acs_identity::Error::InvalidArgument { .. }) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidBody",
                "body",
                format!("token: {e}"),
            ),
            _ => ApiError::acs(&e),
        })?;
        inner.metrics.issued(false);
        Ok(Json(json!({
            "token": token.token(),
            "expiresOn": token.expires_on().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })))
    }
    .await;
    match result {
        Ok(answer) => answer.into_response(),
        Err(e) => inner.refuse(e).into_response(),
    }
}

/// ACS's error code, kept when it is one of the few a caller can act on
/// (the answer's `code` is a `&'static str`).
fn teams_code(code: &str) -> &'static str {
    match code {
        "InvalidAccessToken" => "InvalidAccessToken",
        "ValidationError" => "ValidationError",
        "Unauthorized" => "Unauthorized",
        "Forbidden" => "Forbidden",
        _ => "TeamsTokenRefused",
    }
}

/// `DELETE /user`: the caller's ACS identity is deleted (its tokens die
/// with it) and its mapping and cached token forgotten; the next sign-in
/// gets a new identity. A second call finds nothing to delete: 204 again.
async fn erase(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let result = async {
        let user = inner.authenticate(&headers).await?;
        if let Some(cache) = &inner.cache {
            cache.forget(&user);
        }
        if let Some(identity) = inner.identity_of(&user).await? {
            let deleted = match &inner.acs {
                Acs::Stable(client, _) => inner.call(client.delete_user(&identity)).await,
                Acs::Preview(client) => inner.call(client.delete_user(&identity)).await,
            };
            match deleted {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(ApiError::acs(&e)),
            }
        }
        inner.mappings.invalidate(&user);
        if let Acs::Stable(_, store) = &inner.acs {
            store.erase(&user).await.map_err(|e| ApiError::store(&e))?;
        }
        tracing::info!("an app user's identity was erased on request");
        Ok(())
    }
    .await;
    no_content(result)
}

fn no_content(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(State(inner): State<Arc<Inner>>) -> Response {
    let (ok, body) = inner.readiness().await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(inner): State<Arc<Inner>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        inner.metrics.encode(),
    )
        .into_response()
}
