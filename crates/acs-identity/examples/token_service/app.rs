//! The token service's HTTP API: `POST /token`.
//!
//! Shared by the example's `main.rs` and by `tests/token_service.rs`, which
//! includes this file to serve the same router in process.
//!
//! Request (JSON):
//!
//! ```json
//! { "appUserId": "alice@contoso.com", "scopes": ["chat", "voip"] }
//! ```
//!
//! `appUserId` is the app's own id of its signed-in user. It is read from
//! the body to keep the example small; a real service takes it from its
//! own authentication (a verified session or ID token), never from what
//! the caller claims. Each app user id maps to one Communication Services
//! identity through its custom id (preview api-version), so the same app
//! user always gets the same `userId`.
//!
//! Answers:
//!
//! - 200 `{ "userId": "8:acs:…", "token": "eyJ…", "expiresOn": "2025-…Z" }`;
//! - 400 `{ "error": { "code", "message" } }` for a body that is not this
//!   JSON, an empty or over-long `appUserId`, no scopes or an unknown scope;
//! - 502 with the same error shape when Communication Services fails.

use acs_identity::{Error, TokenScope, preview};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The longest custom id the service accepts.
const MAX_APP_USER_ID_CHARS: usize = 256;

/// The router of the service, issuing tokens through `client`.
pub fn router(client: preview::CommunicationIdentityClient) -> Router {
    Router::new()
        .route("/token", post(issue_token))
        .with_state(client)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenRequest {
    app_user_id: String,
    scopes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    user_id: String,
    token: String,
    expires_on: DateTime<Utc>,
}

async fn issue_token(
    State(client): State<preview::CommunicationIdentityClient>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::bad_request("InvalidBody", e.body_text()))?;
    let app_user_id = request.app_user_id;
    if app_user_id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "InvalidAppUserId",
            "appUserId must not be empty",
        ));
    }
    if app_user_id.chars().count() > MAX_APP_USER_ID_CHARS {
        return Err(ApiError::bad_request(
            "InvalidAppUserId",
            format!("appUserId must be at most {MAX_APP_USER_ID_CHARS} characters long"),
        ));
    }
    let scopes = known_scopes(&request.scopes)?;

    let issued = client
        .create_user_and_token(scopes)
        .custom_id(app_user_id)
        .await
        .map_err(ApiError::from_acs)?;
    Ok(Json(TokenResponse {
        user_id: issued.user.id().to_string(),
        token: issued.access_token.token().to_string(),
        expires_on: issued.access_token.expires_on(),
    }))
}

/// The requested scopes: at least one, each one of the five the API
/// documents; repeats are dropped.
fn known_scopes(requested: &[String]) -> Result<Vec<TokenScope>, ApiError> {
    if requested.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidScopes",
            "give at least one scope",
        ));
    }
    let mut scopes = Vec::new();
    for name in requested {
        let scope = TokenScope::KNOWN
            .into_iter()
            .find(|known| known.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = TokenScope::KNOWN.iter().map(TokenScope::as_str).collect();
                ApiError::bad_request(
                    "InvalidScopes",
                    format!("unknown scope {name:?}; use one of {}", known.join(", ")),
                )
            })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// An error answer: `{ "error": { "code", "message" } }`.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    /// A failed call to Communication Services. Arguments the client
    /// refused are the caller's; anything else is a bad gateway, whose
    /// details are logged rather than returned.
    fn from_acs(error: Error) -> Self {
        if let Error::InvalidArgument { reason, .. } = &error {
            return Self::bad_request("InvalidArgument", reason.clone());
        }
        tracing::warn!(%error, "Communication Services did not issue a token");
        Self {
            status: StatusCode::BAD_GATEWAY,
            code: "UpstreamFailed",
            message: "Communication Services did not issue a token; try again later".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}
