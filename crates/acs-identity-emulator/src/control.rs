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

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::entra::EntraKeys;
use crate::faults::Faults;
use crate::service::{Shared, error_response, validate_token};
use crate::sync::lock;

pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    segments: &[&str],
    _query: &str,
    _headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, ApiError> {
    let body_json = || -> Result<Value, ApiError> {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                400,
                "BadRequest",
                format!("The request body is not valid JSON: {e}."),
            )
        })
    };
    let answer = match (method, segments) {
        ("GET", ["health"]) => json!({"status": "ok"}),
        ("POST", ["validate-token"]) => {
            let token = body_json()?
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_string);
            let token = token.ok_or_else(|| ApiError::validation("token", "token is required."))?;
            validate_token(shared, &token)
        }
        ("GET", ["faults"]) => {
            json!({"faults": lock(&shared.faults).to_string()})
        }
        ("PUT", ["faults"]) => {
            let spec = body_json()?
                .get("faults")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let faults: Faults = spec.parse().map_err(|e: crate::faults::FaultSpecError| {
                ApiError::validation("faults", e.to_string())
            })?;
            let text = faults.to_string();
            *lock(&shared.faults) = faults;
            json!({"faults": text})
        }
        ("PUT", ["groups", group, "members"]) => {
            let members = body_json()?
                .get("members")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .ok_or_else(|| {
                    ApiError::validation("members", "members must be an array of object ids.")
                })?;
            shared
                .store
                .set_group_members(group, members)
                .map_err(|e| {
                    tracing::error!(error = %e, "storage failed");
                    ApiError::new(
                        500,
                        "InternalServerError",
                        "The emulator could not store the change.",
                    )
                })?;
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            return Ok(resp);
        }
        ("POST", ["entra-token"]) => {
            let claims = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                match body_json()?.get("claims") {
                    None | Some(Value::Null) => Value::Null,
                    Some(c @ Value::Object(_)) => c.clone(),
                    Some(_) => {
                        return Err(ApiError::validation("claims", "claims must be an object."));
                    }
                }
            };
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
        _ => {
            return Ok(error_response(&ApiError::not_found(
                "No emulator endpoint at this path.",
            )));
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(answer.to_string())));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
