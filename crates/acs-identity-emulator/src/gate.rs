//! The gate: what a request to the service's API goes through before its
//! handler runs, in the order the service answers (the Host was checked
//! before, see [`crate::host`]):
//!
//! 1. the route: 404 for an unknown path, 405 for a known path with
//!    another method;
//! 2. the body: 413 over [`MAX_BODY`], 408 when it does not arrive within
//!    the body timeout;
//! 3. authentication: 401 (the access key's signature, a verified
//!    management token, or for the exchanges the user's token);
//! 4. the api-version: 400 when it is missing, unknown, or lacks the
//!    operation;
//! 5. faults: armed faults apply only to requests that got this far, so an
//!    unauthenticated request never uses one up.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use acs_identity_raw::{API_VERSIONS, ApiVersion};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Request};

use crate::api_error::ApiError;
use crate::auth::{self, Caller};
use crate::faults::Action;
use crate::handlers::{Ctx, Params};
use crate::response::{self, Reply};
use crate::routes::{self, Auth, Miss, Route};
use crate::state::Shared;
use crate::sync::lock;

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A request that passed the gate.
pub struct Admitted {
    pub route: &'static Route,
    pub params: Params,
    pub body: Bytes,
    pub version: &'static ApiVersion,
    query: String,
    host: String,
    now: SystemTime,
    user_token: Option<String>,
}

impl Admitted {
    /// What the handler gets besides the body.
    pub fn ctx<'a>(&'a self, shared: &'a Shared) -> Ctx<'a> {
        Ctx {
            shared,
            version: self.version,
            params: self.params.clone(),
            query: &self.query,
            host: &self.host,
            now: DateTime::<Utc>::from(self.now),
            user_token: self.user_token.as_deref(),
        }
    }
}

/// Why a request stopped at the gate.
pub enum Stopped {
    /// Refused with the service's error.
    Refused(ApiError),
    /// An armed fault answered (or dropped the connection).
    Fault(Reply),
}

impl From<ApiError> for Stopped {
    fn from(e: ApiError) -> Self {
        Stopped::Refused(e)
    }
}

/// Takes `req` through the checks, in the order of the module docs.
/// `operation` is set as soon as the route is known (for the request log,
/// also when a later check refuses).
pub async fn admit(
    shared: &Shared,
    req: Request<Incoming>,
    operation: &mut Option<&'static str>,
) -> Result<Admitted, Stopped> {
    let (parts, incoming) = req.into_parts();
    let method = parts.method;
    let path = parts.uri.path();

    // 1. The route.
    let (route, params) = routes::find(&method, path).map_err(|miss| match miss {
        Miss::MethodNotAllowed => ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not allowed on {path}."),
        ),
        Miss::NotFound => ApiError::not_found(format!("No operation at {path}.")),
    })?;
    *operation = Some(route.operation);

    // 2. The body.
    let body = read_body(&parts.headers, incoming, shared.body_timeout).await?;

    // 3. Authentication.
    let now = SystemTime::now();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let caller = auth::authenticate(
        method.as_str(),
        path_and_query,
        &parts.headers,
        &body,
        &shared.access_key,
        now,
    )?;
    let user_token = match (caller, route.auth) {
        (Caller::Bearer(token), Auth::UserToken) => Some(token),
        (Caller::Key, Auth::UserToken) => {
            return Err(ApiError::unauthorized(
                "InvalidAccessToken",
                "This operation takes the user's Entra ID token as the bearer token.",
            )
            .into());
        }
        (Caller::Bearer(token), Auth::Resource) => {
            shared
                .entra
                .verify(&token, DateTime::<Utc>::from(now).timestamp())?;
            None
        }
        (Caller::Key, Auth::Resource) => None,
    };

    // 4. The api-version.
    let query = parts.uri.query().unwrap_or_default();
    let version = api_version(query, route.operation)?;

    // 5. Faults.
    injected(shared, route.operation).await?;

    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    Ok(Admitted {
        route,
        params,
        body,
        version,
        query: query.to_string(),
        host,
        now,
        user_token,
    })
}

/// The api-version the query names, when it has `operation`.
fn api_version(query: &str, operation: &str) -> Result<&'static ApiVersion, ApiError> {
    let name = crate::query::param(query, "api-version").ok_or_else(|| {
        ApiError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required.",
        )
    })?;
    let version = API_VERSIONS
        .iter()
        .find(|v| v.version == name)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "UnsupportedApiVersion",
                format!("The api-version {name} is not supported."),
            )
        })?;
    if !version.has(operation) {
        return Err(ApiError::new(
            400,
            "UnsupportedApiVersion",
            format!("The operation {operation} is not available in api-version {name}."),
        ));
    }
    Ok(version)
}

/// Applies the fault settings to one request of `operation`: a delay, and
/// an answer or a dropped connection instead of the operation's.
async fn injected(shared: &Shared, operation: &str) -> Result<(), Stopped> {
    let decision = lock(&shared.faults).decide(operation);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let reply = match decision.outcome {
        Some(Action::Drop) => Reply::Drop,
        Some(Action::Status {
            status,
            retry_after,
            retry_after_ms,
        }) => {
            let code = match status {
                429 => "TooManyRequests",
                503 => "ServiceUnavailable",
                500 => "InternalServerError",
                _ => "InjectedFault",
            };
            let mut resp = response::error(&ApiError::new(
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
            Reply::Send(resp)
        }
        Some(Action::Latency(_)) | None => return Ok(()),
    };
    shared.stats.faults.fetch_add(1, Ordering::Relaxed);
    Err(Stopped::Fault(reply))
}

/// Reads the whole body: 413 over [`MAX_BODY`] (by `content-length`
/// before reading, or while reading), 408 when it is not there within
/// `limit`.
pub async fn read_body(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_by_api_version() {
        let available = |op: &str, v: &str| api_version(&format!("api-version={v}"), op).is_ok();
        assert!(available("get_identity", "2025-03-02-preview"));
        assert!(!available("get_identity", "2025-06-30"));
        assert!(!available("upsert_entra_assignment", "2026-09-23"));
        assert!(available("upsert_teams_extension_assignment", "2025-06-30"));
        assert!(!available(
            "upsert_teams_extension_assignment",
            "2023-10-01"
        ));
        assert!(!available("exchange_teams_user_access_token", "2021-03-07"));
        assert!(available("exchange_teams_user_access_token", "2022-06-01"));
        assert!(available("create_identity", "2021-03-07"));
        assert!(!available("create_identity", "2020-01-01"));
        let e = api_version("", "create_identity").unwrap_err();
        assert_eq!(e.code, "MissingApiVersionParameter");
    }
}
