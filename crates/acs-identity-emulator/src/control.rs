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
use hyper::{Method, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::body::{self, Presence};
use crate::faults::Faults;
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

/// Answers `method` on `/_emulator{path}`.
pub fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Response<Full<Bytes>>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let answer = match (method.as_str(), segments.as_slice()) {
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
