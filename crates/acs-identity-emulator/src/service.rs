//! Routing and the operations.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::{self, Caller};
use crate::entra::EntraKeys;
use crate::faults::{Action, Faults};
use crate::jwt;
use crate::store::{EntraAssignment, Invalid, Store, TeamsExtensionAssignment};
use crate::sync::lock;

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Stable api-versions the emulator serves.
pub const STABLE_VERSIONS: &[&str] = &[
    "2021-03-07",
    "2022-06-01",
    "2022-10-01",
    "2023-10-01",
    "2025-06-30",
    "2026-09-23",
];
/// Preview api-versions the emulator serves.
pub const PREVIEW_VERSIONS: &[&str] = &["2025-03-02-preview"];

/// Counters, readable through [`crate::Emulator::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub faults: AtomicU64,
    pub tokens_issued: AtomicU64,
}

/// Everything the handlers share.
pub struct Shared {
    pub store: Store,
    pub access_key: Vec<u8>,
    /// Signs and verifies management bearer tokens.
    pub entra: EntraKeys,
    /// Time allowed for a request body to arrive.
    pub body_timeout: Duration,
    pub faults: Mutex<Faults>,
    pub page_size: AtomicUsize,
    pub stats: Stats,
}

/// What a handler answers: status and optional JSON body.
type Answer = Result<(u16, Option<Value>), ApiError>;

/// The operations, by the raw client's method names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateIdentity,
    GetIdentity,
    DeleteIdentity,
    IssueAccessToken,
    RevokeAccessTokens,
    ExchangeTeamsUserAccessToken,
    ExchangeTeamsExtensionAccessToken,
    GetTeamsExtensionAssignment,
    UpsertTeamsExtensionAssignment,
    DeleteTeamsExtensionAssignment,
    ExchangeEntraAccessToken,
    ListEntraAssignments,
    UpdateEntraAssignments,
    GetEntraAssignment,
    UpsertEntraAssignment,
    DeleteEntraAssignment,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::CreateIdentity => "create_identity",
            Op::GetIdentity => "get_identity",
            Op::DeleteIdentity => "delete_identity",
            Op::IssueAccessToken => "issue_access_token",
            Op::RevokeAccessTokens => "revoke_access_tokens",
            Op::ExchangeTeamsUserAccessToken => "exchange_teams_user_access_token",
            Op::ExchangeTeamsExtensionAccessToken => "exchange_teams_extension_access_token",
            Op::GetTeamsExtensionAssignment => "get_teams_extension_assignment",
            Op::UpsertTeamsExtensionAssignment => "upsert_teams_extension_assignment",
            Op::DeleteTeamsExtensionAssignment => "delete_teams_extension_assignment",
            Op::ExchangeEntraAccessToken => "exchange_entra_access_token",
            Op::ListEntraAssignments => "list_entra_assignments",
            Op::UpdateEntraAssignments => "update_entra_assignments",
            Op::GetEntraAssignment => "get_entra_assignment",
            Op::UpsertEntraAssignment => "upsert_entra_assignment",
            Op::DeleteEntraAssignment => "delete_entra_assignment",
        }
    }

    /// Whether the operation exists in `version`.
    fn available_in(self, version: &str) -> bool {
        let preview = PREVIEW_VERSIONS.contains(&version);
        match self {
            Op::CreateIdentity
            | Op::DeleteIdentity
            | Op::IssueAccessToken
            | Op::RevokeAccessTokens => true,
            Op::ExchangeTeamsUserAccessToken => preview || version >= "2022-06-01",
            Op::ExchangeTeamsExtensionAccessToken
            | Op::GetTeamsExtensionAssignment
            | Op::UpsertTeamsExtensionAssignment
            | Op::DeleteTeamsExtensionAssignment => preview || version >= "2025-06-30",
            Op::GetIdentity
            | Op::ExchangeEntraAccessToken
            | Op::ListEntraAssignments
            | Op::UpdateEntraAssignments
            | Op::GetEntraAssignment
            | Op::UpsertEntraAssignment
            | Op::DeleteEntraAssignment => preview,
        }
    }

    /// The token exchanges authenticate with the user's bearer token.
    fn takes_user_token(self) -> bool {
        matches!(
            self,
            Op::ExchangeTeamsExtensionAccessToken | Op::ExchangeEntraAccessToken
        )
    }
}

/// Matches a path (segments still percent-encoded) to an operation and its
/// decoded path parameters. `Err(true)`: the path exists with other methods.
fn route(method: &str, segments: &[&str]) -> Result<(Op, Vec<String>), bool> {
    if let Some(found) = route_exact(method, segments) {
        return Ok(found);
    }
    Err(["GET", "POST", "PUT", "PATCH", "DELETE"]
        .iter()
        .any(|m| *m != method && route_exact(m, segments).is_some()))
}

fn route_exact(method: &str, segments: &[&str]) -> Option<(Op, Vec<String>)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (op, params) = match (method, segments) {
        ("POST", ["identities"]) => (Op::CreateIdentity, vec![]),
        ("GET", ["identities", id]) => (Op::GetIdentity, vec![decode(id)]),
        ("DELETE", ["identities", id]) => (Op::DeleteIdentity, vec![decode(id)]),
        ("POST", ["identities", id, ":issueAccessToken"]) => {
            (Op::IssueAccessToken, vec![decode(id)])
        }
        ("POST", ["identities", id, ":revokeAccessTokens"]) => {
            (Op::RevokeAccessTokens, vec![decode(id)])
        }
        ("POST", ["teamsUser", ":exchangeAccessToken"]) => {
            (Op::ExchangeTeamsUserAccessToken, vec![])
        }
        ("POST", ["access", "teamsExtension", ":exchangeAccessToken"]) => {
            (Op::ExchangeTeamsExtensionAccessToken, vec![])
        }
        ("GET", ["access", "teamsExtension", "tenants", t, "assignments", o]) => {
            (Op::GetTeamsExtensionAssignment, vec![decode(t), decode(o)])
        }
        ("PUT", ["access", "teamsExtension", "tenants", t, "assignments", o]) => (
            Op::UpsertTeamsExtensionAssignment,
            vec![decode(t), decode(o)],
        ),
        ("DELETE", ["access", "teamsExtension", "tenants", t, "assignments", o]) => (
            Op::DeleteTeamsExtensionAssignment,
            vec![decode(t), decode(o)],
        ),
        ("POST", ["access", "entra", ":exchangeAccessToken"]) => {
            (Op::ExchangeEntraAccessToken, vec![])
        }
        ("GET", ["access", "entra", "assignments"]) => (Op::ListEntraAssignments, vec![]),
        ("PATCH", ["access", "entra", "assignments"]) => (Op::UpdateEntraAssignments, vec![]),
        ("GET", ["access", "entra", "assignments", o]) => (Op::GetEntraAssignment, vec![decode(o)]),
        ("PUT", ["access", "entra", "assignments", o]) => {
            (Op::UpsertEntraAssignment, vec![decode(o)])
        }
        ("DELETE", ["access", "entra", "assignments", o]) => {
            (Op::DeleteEntraAssignment, vec![decode(o)])
        }
        _ => return None,
    };
    Some((op, params))
}

/// What the connection should do after a request.
pub enum Reply {
    /// Send this response.
    Send(Response<Full<Bytes>>),
    /// Close the connection without answering (fault injection).
    Drop,
}

/// Handles one request.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let request_id = req.headers().get("x-ms-client-request-id").cloned();
    let checked = crate::host::check(req.version(), req.uri(), req.headers());
    let answer = match checked {
        Ok(()) => dispatch(&shared, req).await,
        Err(e) => Err(e),
    };
    let mut reply = match answer {
        Ok(Some(resp)) => resp,
        Ok(None) => return Reply::Drop,
        Err(e) => {
            // Every 401, whichever check refused the request, is counted here.
            if e.status == 401 {
                shared.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            }
            let mut resp = error_response(&e);
            // After a refused Host or an unfinished body the connection is
            // not reused.
            if matches!(
                e.code,
                "InvalidHostHeader" | "MisdirectedRequest" | "RequestTimeout"
            ) {
                resp.headers_mut()
                    .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    if let Some(id) = request_id {
        reply.headers_mut().insert("x-ms-client-request-id", id);
    }
    Reply::Send(reply)
}

fn json_response(status: u16, body: Option<&Value>) -> Response<Full<Bytes>> {
    let mut resp = match body {
        Some(b) => {
            let json = serde_json::to_vec(b).expect("a JSON value serializes");
            let mut r = Response::new(Full::new(Bytes::from(json)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
        None => Response::new(Full::new(Bytes::new())),
    };
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp
}

pub fn error_response(e: &ApiError) -> Response<Full<Bytes>> {
    json_response(e.status, Some(&e.body()))
}

/// Routes, reads the body, authenticates, checks the api-version, injects
/// faults and runs the operation, in that order (the Host was checked
/// before). `Ok(None)`: drop the connection.
async fn dispatch(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<Option<Response<Full<Bytes>>>, ApiError> {
    let method = req.method().as_str().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();

    if segments.first() != Some(&"_emulator") {
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    } else {
        let (parts, incoming) = req.into_parts();
        let body = read_body(&parts.headers, incoming, shared.body_timeout).await?;
        let headers = parts.headers;
        return crate::control::handle(shared, &method, &segments[1..], &query, &headers, &body)
            .map(Some);
    }

    // 1. The route: 404 / 405.
    let (op, params) = match route(&method, &segments) {
        Ok(found) => found,
        Err(true) => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not allowed on {path}."),
            ));
        }
        Err(false) => return Err(ApiError::not_found(format!("No operation at {path}."))),
    };

    // 2. The body: 413 over the limit, 408 when it does not arrive in time.
    let (parts, incoming) = req.into_parts();
    let body = read_body(&parts.headers, incoming, shared.body_timeout).await?;
    let headers = parts.headers;

    // 3. Authentication: 401. The signature, or a verified management
    //    token, or for the exchanges the user's token.
    let now = SystemTime::now();
    let caller = auth::authenticate(
        &method,
        &path_and_query,
        &headers,
        &body,
        &shared.access_key,
        now,
    )?;
    let bearer = match (&caller, op.takes_user_token()) {
        (Caller::Bearer(token), true) => Some(token.as_str()),
        (Caller::Key, true) => {
            return Err(ApiError::unauthorized(
                "InvalidAccessToken",
                "This operation takes the user's Entra ID token as the bearer token.",
            ));
        }
        (Caller::Bearer(token), false) => {
            shared
                .entra
                .verify(token, DateTime::<Utc>::from(now).timestamp())?;
            None
        }
        (Caller::Key, false) => None,
    };

    // 4. The api-version: 400.
    let version = query_param(&query, "api-version").ok_or_else(|| {
        ApiError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required.",
        )
    })?;
    if !STABLE_VERSIONS.contains(&version.as_str()) && !PREVIEW_VERSIONS.contains(&version.as_str())
    {
        return Err(ApiError::new(
            400,
            "UnsupportedApiVersion",
            format!("The api-version {version} is not supported."),
        ));
    }
    if !op.available_in(&version) {
        return Err(ApiError::new(
            400,
            "UnsupportedApiVersion",
            format!(
                "The operation {} is not available in api-version {version}.",
                op.name()
            ),
        ));
    }

    // 5. Faults, for requests the service would have handled.
    let decision = lock(&shared.faults).decide(op.name());
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.outcome {
        Some(Action::Drop) => {
            shared.stats.faults.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Some(Action::Status {
            status,
            retry_after,
            retry_after_ms,
        }) => {
            shared.stats.faults.fetch_add(1, Ordering::Relaxed);
            let code = match status {
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                500 => "InternalServerError",
                _ => "InjectedFault",
            };
            let mut resp = error_response(&ApiError::new(
                status,
                code,
                "Injected by the emulator's fault settings.",
            ));
            if let Some(s) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from(s));
            }
            if let Some(ms) = retry_after_ms {
                resp.headers_mut()
                    .insert("retry-after-ms", HeaderValue::from(ms));
            }
            return Ok(Some(resp));
        }
        Some(Action::Latency(_)) | None => {}
    }

    // 6. The operation.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let ctx = Ctx {
        shared,
        version: &version,
        query: &query,
        host: &host,
        now: DateTime::<Utc>::from(now),
    };
    let (status, body) = run(&ctx, op, &params, &body, bearer)?;
    Ok(Some(json_response(status, body.as_ref())))
}

async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    limit: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("The request body is larger than {MAX_BODY} bytes."),
        )
    };
    if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > MAX_BODY as u64
    {
        return Err(too_large());
    }
    let collected = tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| {
            ApiError::new(
                408,
                "RequestTimeout",
                format!(
                    "The request body did not arrive within {} ms.",
                    limit.as_millis()
                ),
            )
        })?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(ApiError::new(
            400,
            "BadRequest",
            "The request body could not be read.",
        )),
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(k).decode_utf8_lossy() == name)
            .then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

struct Ctx<'a> {
    shared: &'a Shared,
    version: &'a str,
    query: &'a str,
    host: &'a str,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn preview(&self) -> bool {
        PREVIEW_VERSIONS.contains(&self.version)
    }

    fn store(&self) -> &Store {
        &self.shared.store
    }
}

fn storage(e: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "storage failed");
    ApiError::new(
        500,
        "InternalServerError",
        "The emulator could not store the change.",
    )
}

fn parse_json(body: &[u8], optional: bool) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if optional {
            return Ok(Map::new());
        }
        return Err(ApiError::new(
            400,
            "BadRequest",
            "The request body is required.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::new(
            400,
            "BadRequest",
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::new(
            400,
            "BadRequest",
            format!("The request body is not valid JSON: {e}."),
        )),
    }
}

const KNOWN_SCOPES: &[&str] = &[
    "chat",
    "voip",
    "chat.join",
    "chat.join.limited",
    "voip.join",
];

fn scopes(value: Option<&Value>, target: &str, required: bool) -> Result<Vec<String>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return if required {
            Err(ApiError::validation(target, "Scopes are required."))
        } else {
            Ok(vec![])
        };
    };
    let list = value
        .as_array()
        .ok_or_else(|| ApiError::validation(target, "Scopes must be an array of strings."))?;
    let mut out = Vec::new();
    for s in list {
        let s = s
            .as_str()
            .ok_or_else(|| ApiError::validation(target, "Scopes must be an array of strings."))?;
        if !KNOWN_SCOPES.contains(&s) {
            return Err(ApiError::validation(
                target,
                format!("Scope {s} is not a valid scope."),
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    if required && out.is_empty() {
        return Err(ApiError::validation(
            target,
            "At least one scope is required.",
        ));
    }
    Ok(out)
}

fn expires_in_minutes(body: &Map<String, Value>) -> Result<i64, ApiError> {
    match body.get("expiresInMinutes") {
        None | Some(Value::Null) => Ok(1440),
        Some(v) => {
            let n = v.as_i64().ok_or_else(|| {
                ApiError::validation("ExpiresInMinutes", "ExpiresInMinutes must be an integer.")
            })?;
            if !(60..=1440).contains(&n) {
                return Err(ApiError::validation(
                    "ExpiresInMinutes",
                    format!(
                        "ExpiresInMinutes value {n} is invalid. Value must be within the [60, 1440] interval."
                    ),
                ));
            }
            Ok(n)
        }
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Issues a token for a stored user: its `exp` is the returned `expiresOn`.
fn acs_token(
    ctx: &Ctx<'_>,
    user: &str,
    scopes: &[String],
    minutes: i64,
) -> Result<Value, ApiError> {
    let now = ctx.now;
    let generation = ctx
        .store()
        .issue_token(user, now)
        .map_err(storage)?
        .ok_or_else(|| identity_not_found(user))?;
    let expires = truncate(now) + chrono::Duration::minutes(minutes);
    Ok(token_json(
        ctx,
        user,
        scopes,
        expires,
        json!({"kind": "acs", "gen": generation}),
    ))
}

fn token_json(
    ctx: &Ctx<'_>,
    subject: &str,
    scopes: &[String],
    expires: DateTime<Utc>,
    extra: Value,
) -> Value {
    let mut claims = json!({
        "iss": "acs-identity-emulator",
        "sub": subject,
        "resourceId": ctx.store().resource_id,
        "scopes": scopes,
        "acsScope": scopes.join(","),
        "iat": ctx.now.timestamp(),
        "exp": expires.timestamp(),
        "jti": crate::store::random_guid(),
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    ctx.shared
        .stats
        .tokens_issued
        .fetch_add(1, Ordering::Relaxed);
    json!({ "token": jwt::sign(&claims, &ctx.store().signing_secret), "expiresOn": timestamp(expires) })
}

fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn identity_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "IdentityNotFound",
        format!("Identity {id} was not found."),
    )
}

fn identity_json(ctx: &Ctx<'_>, identity: &crate::store::Identity) -> Value {
    let mut v = json!({ "id": identity.id });
    if ctx.preview() {
        if let Some(c) = &identity.custom_id {
            v["customId"] = json!(c);
        }
        if let Some(t) = identity.last_token_issued_at {
            v["lastTokenIssuedAt"] = json!(timestamp(t));
        }
    }
    v
}

fn run(ctx: &Ctx<'_>, op: Op, params: &[String], body: &[u8], bearer: Option<&str>) -> Answer {
    let store = ctx.store();
    match op {
        Op::CreateIdentity => {
            let req = parse_json(body, true)?;
            let scopes = scopes(
                req.get("createTokenWithScopes"),
                "createTokenWithScopes",
                false,
            )?;
            let minutes = expires_in_minutes(&req)?;
            let custom_id = match (ctx.preview(), req.get("customId")) {
                (true, Some(Value::String(c))) => {
                    if c.is_empty() || c.chars().count() > 256 {
                        return Err(ApiError::validation(
                            "customId",
                            "customId must be 1 to 256 characters long.",
                        ));
                    }
                    Some(c.as_str())
                }
                (true, Some(Value::Null) | None) | (false, _) => None,
                (true, Some(_)) => {
                    return Err(ApiError::validation(
                        "customId",
                        "customId must be a string.",
                    ));
                }
            };
            let (identity, _) = store.create_identity(custom_id).map_err(storage)?;
            let mut result = json!({});
            if !scopes.is_empty() {
                result["accessToken"] = acs_token(ctx, &identity.id, &scopes, minutes)?;
            }
            let identity = store.get_identity(&identity.id).unwrap_or(identity);
            result["identity"] = identity_json(ctx, &identity);
            Ok((201, Some(result)))
        }
        Op::GetIdentity => {
            let identity = store
                .get_identity(&params[0])
                .ok_or_else(|| identity_not_found(&params[0]))?;
            Ok((200, Some(identity_json(ctx, &identity))))
        }
        Op::DeleteIdentity => {
            if !store.delete_identity(&params[0]).map_err(storage)? {
                return Err(identity_not_found(&params[0]));
            }
            Ok((204, None))
        }
        Op::IssueAccessToken => {
            let req = parse_json(body, false)?;
            let scopes = scopes(req.get("scopes"), "scopes", true)?;
            let minutes = expires_in_minutes(&req)?;
            Ok((200, Some(acs_token(ctx, &params[0], &scopes, minutes)?)))
        }
        Op::RevokeAccessTokens => {
            if !store.revoke(&params[0]).map_err(storage)? {
                return Err(identity_not_found(&params[0]));
            }
            Ok((204, None))
        }
        Op::ExchangeTeamsUserAccessToken => exchange_teams_user(ctx, body),
        Op::ExchangeTeamsExtensionAccessToken => {
            exchange_for_assignment(ctx, body, bearer.unwrap_or_default(), false)
        }
        Op::ExchangeEntraAccessToken => {
            exchange_for_assignment(ctx, body, bearer.unwrap_or_default(), true)
        }
        Op::GetTeamsExtensionAssignment => {
            let a = store
                .teams_extension(&params[0], &params[1])
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "AssignmentNotFound",
                        "No assignment exists for this tenant and object.",
                    )
                })?;
            Ok((200, Some(teams_extension_json(&a))))
        }
        Op::UpsertTeamsExtensionAssignment => {
            let req = parse_json(body, false)?;
            let principal_type = required_string(&req, "principalType")?;
            let client_ids = string_list(&req, "clientIds", false)?;
            let a = TeamsExtensionAssignment {
                tenant_id: params[0].clone(),
                object_id: params[1].clone(),
                principal_type,
                client_ids,
            };
            let created = store.put_teams_extension(a.clone()).map_err(storage)?;
            Ok((
                if created { 201 } else { 200 },
                Some(teams_extension_json(&a)),
            ))
        }
        Op::DeleteTeamsExtensionAssignment => {
            store
                .delete_teams_extension(&params[0], &params[1])
                .map_err(storage)?;
            Ok((204, None))
        }
        Op::GetEntraAssignment => {
            let a = store.entra(&params[0]).ok_or_else(|| {
                ApiError::new(
                    404,
                    "AssignmentNotFound",
                    "No assignment exists for this object.",
                )
            })?;
            Ok((200, Some(entra_json(&a))))
        }
        Op::UpsertEntraAssignment => {
            let req = parse_json(body, false)?;
            let a = entra_assignment(&params[0], &req)?;
            let created = store
                .put_entra(vec![(params[0].clone(), Some(a.clone()))])
                .map_err(storage)?;
            Ok((if created[0] { 201 } else { 200 }, Some(entra_json(&a))))
        }
        Op::DeleteEntraAssignment => {
            store
                .put_entra(vec![(params[0].clone(), None)])
                .map_err(storage)?;
            Ok((204, None))
        }
        Op::ListEntraAssignments => {
            let after = query_param(ctx.query, "skipToken");
            let size = ctx.shared.page_size.load(Ordering::Relaxed).max(1);
            let (page, more) = store.entra_page(after.as_deref(), size);
            let mut result = json!({ "value": page.iter().map(entra_json).collect::<Vec<_>>() });
            if more && let Some(last) = page.last() {
                let token: String = percent_encoding::utf8_percent_encode(
                    &last.object_id,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .collect();
                result["nextLink"] = json!(format!(
                    "http://{}/access/entra/assignments?api-version={}&skipToken={token}",
                    ctx.host, ctx.version
                ));
            }
            Ok((200, Some(result)))
        }
        Op::UpdateEntraAssignments => {
            let req = parse_json(body, false)?;
            if req.is_empty() {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    "The request body must name at least one object id.",
                ));
            }
            let mut changes = Vec::new();
            for (object_id, value) in &req {
                match value {
                    Value::Null => changes.push((object_id.clone(), None)),
                    Value::Object(a) => {
                        changes.push((object_id.clone(), Some(entra_assignment(object_id, a)?)))
                    }
                    _ => {
                        return Err(ApiError::validation(
                            object_id,
                            "Each value must be an assignment object or null.",
                        ));
                    }
                }
            }
            let written: Vec<Value> = changes
                .iter()
                .filter_map(|(_, a)| a.as_ref().map(entra_json))
                .collect();
            store.put_entra(changes).map_err(storage)?;
            if written.is_empty() {
                Ok((204, None))
            } else {
                Ok((200, Some(json!({ "value": written }))))
            }
        }
    }
}

fn required_string(req: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match req.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::validation(
            name,
            format!("{name} is required and must be a non-empty string."),
        )),
    }
}

fn string_list(
    req: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Vec<String>, ApiError> {
    match req.get(name) {
        None | Some(Value::Null) if !required => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::validation(name, format!("{name} must be strings.")))
            })
            .collect(),
        _ => Err(ApiError::validation(
            name,
            format!("{name} is required and must be an array of strings."),
        )),
    }
}

fn entra_assignment(
    object_id: &str,
    req: &Map<String, Value>,
) -> Result<EntraAssignment, ApiError> {
    Ok(EntraAssignment {
        object_id: object_id.to_string(),
        tenant_id: required_string(req, "tenantId")?,
        principal_type: required_string(req, "principalType")?,
        client_ids: string_list(req, "clientIds", true)?,
    })
}

fn teams_extension_json(a: &TeamsExtensionAssignment) -> Value {
    let mut v = json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type });
    if !a.client_ids.is_empty() {
        v["clientIds"] = json!(a.client_ids);
    }
    v
}

fn entra_json(a: &EntraAssignment) -> Value {
    json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type, "clientIds": a.client_ids })
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("InvalidAccessToken", "Provided access token is not valid.")
}

/// The claims of an unexpired user token, with its expiry.
fn user_token_claims(
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Map<String, Value>, DateTime<Utc>), ApiError> {
    let claims = jwt::claims(token).ok_or_else(invalid_token)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(invalid_token)?;
    let expires = DateTime::from_timestamp(exp, 0).ok_or_else(invalid_token)?;
    if expires <= now {
        return Err(invalid_token());
    }
    Ok((claims, expires))
}

fn claim<'a>(claims: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| claims.get(*n).and_then(Value::as_str))
}

fn exchange_teams_user(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req = parse_json(body, false)?;
    let token = required_string(&req, "token")?;
    let app_id = required_string(&req, "appId")?;
    let user_id = required_string(&req, "userId")?;
    let (claims, expires) = user_token_claims(&token, ctx.now)?;
    if claim(&claims, &["appid", "azp"]) != Some(app_id.as_str()) {
        return Err(ApiError::validation(
            "appId",
            "AAD application is not the expected one.",
        ));
    }
    if claim(&claims, &["oid"]) != Some(user_id.as_str()) {
        return Err(ApiError::validation(
            "userId",
            "AAD user is not the expected one.",
        ));
    }
    let subject = format!("8:orgid:{user_id}");
    let token = token_json(
        ctx,
        &subject,
        &["voip".to_string()],
        expires,
        json!({"kind": "teamsUser"}),
    );
    Ok((200, Some(token)))
}

/// The Teams Phone extension and Entra exchanges: the bearer's tenant and
/// object (or tenant, or a group it is in, for Entra) must have an assignment
/// whose client ids include the token's application.
fn exchange_for_assignment(ctx: &Ctx<'_>, body: &[u8], bearer: &str, entra: bool) -> Answer {
    parse_json(body, false)?;
    let (claims, expires) = user_token_claims(bearer, ctx.now)?;
    let tenant = claim(&claims, &["tid"])
        .ok_or_else(invalid_token)?
        .to_string();
    let object = claim(&claims, &["oid"])
        .ok_or_else(invalid_token)?
        .to_string();
    let app = claim(&claims, &["appid", "azp"])
        .unwrap_or_default()
        .to_string();
    let store = ctx.store();
    let candidates: Vec<(String, Vec<String>)> = if entra {
        let mut c = Vec::new();
        if let Some(a) = store
            .entra(&object)
            .filter(|a| a.principal_type == "user" && a.tenant_id == tenant)
        {
            c.push((a.principal_type, a.client_ids));
        }
        if let Some(a) = store
            .entra(&tenant)
            .filter(|a| a.principal_type == "tenant" && a.tenant_id == tenant)
        {
            c.push((a.principal_type, a.client_ids));
        }
        for g in store.entra_groups() {
            if g.tenant_id == tenant && store.is_member(&g.object_id, &object) {
                c.push((g.principal_type, g.client_ids));
            }
        }
        c
    } else {
        store
            .teams_extension(&tenant, &object)
            .map(|a| vec![(a.principal_type, a.client_ids)])
            .unwrap_or_default()
    };
    if candidates.is_empty() {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "No assignment allows this user to exchange tokens.",
        ));
    }
    if !candidates.iter().any(|(_, ids)| ids.contains(&app)) {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "The token's application is not among the assignment's client ids.",
        )
        .with_target("appId"));
    }
    let resource = &store.resource_id;
    let (id, kind) = if entra {
        (format!("8:acs:{resource}_wf_{tenant}_{object}"), "entra")
    } else {
        (
            format!("8:acs:{resource}_{tenant}_{object}"),
            "teamsExtension",
        )
    };
    let expires = expires.min(truncate(ctx.now) + chrono::Duration::hours(24));
    let token = token_json(
        ctx,
        &id,
        &["voip".to_string()],
        expires,
        json!({"kind": kind}),
    );
    Ok((
        200,
        Some(json!({ "identity": { "id": id }, "accessToken": token })),
    ))
}

/// Whether a token the emulator issued is valid now.
pub fn validate_token(shared: &Shared, token: &str) -> Value {
    let Some(claims) = jwt::verify(token, &shared.store.signing_secret) else {
        return json!({ "valid": false, "reason": "malformed" });
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let mut answer = json!({
        "userId": subject,
        "scopes": claims.get("scopes").cloned().unwrap_or(Value::Null),
        "expiresOn": DateTime::from_timestamp(exp, 0).map(timestamp),
    });
    let reason = if exp <= Utc::now().timestamp() {
        Some("expired")
    } else if claims.get("kind").and_then(Value::as_str) == Some("acs") {
        let generation = claims.get("gen").and_then(Value::as_u64).unwrap_or(0);
        match shared.store.token_state(&subject, generation) {
            Ok(()) => None,
            Err(Invalid::Revoked) => Some("revoked"),
            Err(Invalid::UserDeleted) => Some("userDeleted"),
        }
    } else {
        None
    };
    answer["valid"] = json!(reason.is_none());
    if let Some(r) = reason {
        answer["reason"] = json!(r);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_literal_actions_and_encoded_ids() {
        let (op, params) = route(
            "POST",
            &["identities", "8%3Aacs%3Aabc", ":issueAccessToken"],
        )
        .unwrap();
        assert_eq!(op, Op::IssueAccessToken);
        assert_eq!(params, ["8:acs:abc"]);
        let (op, params) =
            route("POST", &["identities", "8:acs:abc", ":revokeAccessTokens"]).unwrap();
        assert_eq!(
            (op, params[0].as_str()),
            (Op::RevokeAccessTokens, "8:acs:abc")
        );
        assert!(
            route("PUT", &["identities"]).unwrap_err(),
            "exists with POST"
        );
        assert!(!route("GET", &["nothing"]).unwrap_err());
        assert!(route("GET", &["identities", "x", ":issueAccessToken"]).unwrap_err());
    }

    #[test]
    fn operations_by_api_version() {
        assert!(Op::GetIdentity.available_in("2025-03-02-preview"));
        assert!(!Op::GetIdentity.available_in("2025-06-30"));
        assert!(!Op::UpsertEntraAssignment.available_in("2026-09-23"));
        assert!(Op::UpsertTeamsExtensionAssignment.available_in("2025-06-30"));
        assert!(!Op::UpsertTeamsExtensionAssignment.available_in("2023-10-01"));
        assert!(!Op::ExchangeTeamsUserAccessToken.available_in("2021-03-07"));
        assert!(Op::ExchangeTeamsUserAccessToken.available_in("2022-06-01"));
        assert!(Op::CreateIdentity.available_in("2021-03-07"));
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param("a=1&api-version=2025-06-30", "api-version").as_deref(),
            Some("2025-06-30")
        );
        assert_eq!(
            query_param("skipToken=a%2Fb", "skipToken").as_deref(),
            Some("a/b")
        );
        assert_eq!(query_param("", "api-version"), None);
    }
}
