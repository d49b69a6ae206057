//! Emulator-only endpoints, under `/_emulator/` (outside the Azure paths,
//! no authentication: the emulator listens on 127.0.0.1 only and answers
//! loopback Host names only, see [`crate::host`]).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /_emulator/health` | – | `{"status":"ok"}` |
//! | `POST /_emulator/validate-token` | `{"token": "…"}` | `{"valid", "reason"?, "userId", "scopes", "expiresOn"}`; reasons `expired`, `revoked`, `userDeleted`, `malformed` |
//! | `GET /_emulator/faults` | – | `{"faults": "<spec>"}` |
//! | `PUT /_emulator/faults` | `{"faults": "<spec>"}` | the new spec |
//! | `PUT /_emulator/groups/{groupId}/members` | `{"members": ["<object id>", …]}` | 204 |
//! | `GET /_emulator/stats` | – | `{"requests", "unauthorized", "faults", "tokensIssued", "identities"}` |
//! | `POST /_emulator/entra-token` | `{"claims": {…}}` (optional) | `{"token", "expiresOn"}`: a management bearer token this emulator accepts |
//! | `GET /_emulator/identities` | – | `{"value": [{"id", "customId", "lastTokenIssuedAt", "revokedAt"}, …]}` |
//! | `GET /_emulator/assignments` | – | `{"teamsExtension": […], "entra": […], "groups": {"<group>": ["<member>", …]}}` |
//! | `POST /_emulator/reset` | – | 204: every identity, assignment and group membership deleted |
//! | `GET /_emulator/requests?after=ID&limit=N` | – | `{"value": [<request>, …]}`: the last requests (at most `N`, default 100), oldest first, with `error` and `refusal` for the refused ones |
//! | `GET /_emulator/` | – | the inspector page (`inspector.js`, `inspector.css` beside it) |
//!
//! Calls that change something (`PUT`, and `POST /_emulator/reset`) must say
//! `Content-Type: application/json`, else 415: an HTML form on another
//! site cannot send that type, and a script there would need a CORS
//! preflight, which the emulator never allows. Every call but `GET` and
//! `HEAD` that carries an `Origin` other than the emulator's own (the
//! scheme and the Host the request was sent to, as the inspector page
//! sends it) is refused with 403: a script on another site can send a
//! JSON body without reading the answer. Calls without an `Origin` (curl,
//! scripts, tests) are not browsers' and pass. The page is served with a
//! `Content-Security-Policy` that allows only its own files and no framing.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, ORIGIN};
use hyper::{HeaderMap, Method, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::body::{self, Presence};
use crate::faults::Faults;
use crate::inspect;
use crate::management_token::EntraKeys;
use crate::response;
use crate::state::Shared;
use crate::sync::lock;
use crate::tokens;

#[derive(Debug, Default, Deserialize)]
struct TokenBody {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct FaultsBody {
    /// Missing: no faults.
    faults: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct MembersBody {
    members: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct EntraTokenBody {
    claims: Option<Map<String, Value>>,
}

/// The inspector page and its files.
const PAGE: &str = include_str!("inspector/index.html");
const SCRIPT: &str = include_str!("inspector/inspector.js");
const STYLE: &str = include_str!("inspector/inspector.css");

/// A file of the inspector page.
fn asset(content_type: &'static str, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

/// Whether the request says its body is JSON.
fn says_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the request carries an `Origin` other than
/// `{scheme}://{authority}` (compared without regard to case), or more
/// than one.
fn from_another_origin(headers: &HeaderMap, scheme: &str, authority: Option<&str>) -> bool {
    let mut origins = headers.get_all(ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return false;
    };
    if origins.next().is_some() {
        return true;
    }
    let (Ok(origin), Some(authority)) = (origin.to_str(), authority) else {
        return true;
    };
    !origin.eq_ignore_ascii_case(&format!("{scheme}://{authority}"))
}

/// Answers `method` on `/_emulator{path}`; `authority` is the Host (or
/// HTTP/2 `:authority`) the request was sent to, already checked.
pub fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    authority: Option<&str>,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let changes_state = matches!(
        (method.as_str(), segments.as_slice()),
        ("PUT", _) | ("POST", ["reset"])
    );
    if changes_state && !says_json(headers) {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "Emulator calls that change something must be sent with Content-Type: application/json.",
        ));
    }
    if !matches!(*method, Method::GET | Method::HEAD)
        && from_another_origin(headers, shared.scheme, authority)
    {
        return Err(ApiError::new(
            403,
            "CrossOriginRequest",
            "Emulator calls other than GET are refused from a page of another origin.",
        ));
    }
    let answer = match (method.as_str(), segments.as_slice()) {
        ("GET", []) => return Ok(asset("text/html; charset=utf-8", PAGE)),
        ("GET", ["inspector.js"]) => return Ok(asset("text/javascript; charset=utf-8", SCRIPT)),
        ("GET", ["inspector.css"]) => return Ok(asset("text/css; charset=utf-8", STYLE)),
        ("GET", ["identities"]) => json!({ "value": inspect::identities(&shared.store) }),
        ("GET", ["assignments"]) => json!(inspect::assignments(&shared.store)),
        ("POST", ["reset"]) => {
            shared.store.reset().map_err(crate::handlers::storage)?;
            return Ok(response::json(204, None));
        }
        ("GET", ["requests"]) => {
            let number = |name: &str, default: u64| {
                crate::query::param(query, name)
                    .map_or(Ok(default), |v| v.parse::<u64>())
                    .map_err(|_| {
                        ApiError::validation(name, format!("{name} must be a whole number."))
                    })
            };
            let after = number("after", 0)?;
            let limit = number("limit", 100)?;
            json!({ "value": shared.requests.recent(after, usize::try_from(limit).unwrap_or(usize::MAX)) })
        }
        ("GET", ["health"]) => json!({"status": "ok"}),
        ("POST", ["validate-token"]) => {
            let request: TokenBody = body::read(body, Presence::Required)?;
            let token = request
                .token
                .ok_or_else(|| ApiError::validation("token", "token is required."))?;
            tokens::validate(shared, &token)
        }
        ("GET", ["faults"]) => json!({"faults": lock(&shared.faults).to_string()}),
        ("PUT", ["faults"]) => {
            let request: FaultsBody = body::read(body, Presence::Required)?;
            let faults: Faults = request.faults.unwrap_or_default().parse().map_err(
                |e: crate::faults::FaultSpecError| ApiError::validation("faults", e.to_string()),
            )?;
            let text = faults.to_string();
            *lock(&shared.faults) = faults;
            json!({"faults": text})
        }
        ("PUT", ["groups", group, "members"]) => {
            let request: MembersBody = body::read(body, Presence::Required)?;
            let members = request.members.ok_or_else(|| {
                ApiError::validation("members", "members must be an array of object ids.")
            })?;
            shared
                .store
                .set_group_members(group, members)
                .map_err(crate::handlers::storage)?;
            return Ok(response::json(204, None));
        }
        ("POST", ["entra-token"]) => {
            let request: EntraTokenBody = body::read(body, Presence::Optional)?;
            let claims = request.claims.map_or(Value::Null, Value::Object);
            let now = chrono::Utc::now().timestamp();
            let all = EntraKeys::claims(claims.clone(), now);
            let expires_on = all
                .get("exp")
                .and_then(Value::as_i64)
                .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            json!({"token": shared.entra.mint(claims, now), "expiresOn": expires_on})
        }
        ("GET", ["stats"]) => json!({
            "requests": shared.stats.requests.load(Ordering::Relaxed),
            "unauthorized": shared.stats.unauthorized.load(Ordering::Relaxed),
            "faults": shared.stats.faults.load(Ordering::Relaxed),
            "tokensIssued": shared.stats.tokens_issued.load(Ordering::Relaxed),
            "identities": shared.store.identity_count(),
        }),
        _ => return Err(ApiError::not_found("No emulator endpoint at this path.")),
    };
    Ok(response::json(200, Some(&answer)))
}
