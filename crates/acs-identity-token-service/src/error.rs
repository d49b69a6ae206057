//! The service's error answers: `{"error": {"code", "message"}}` with the
//! status, `WWW-Authenticate` for a 401, `Retry-After` where waiting helps,
//! and the refusal's reason for the request log and the metrics.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::oidc::Refusal;
use crate::store::StoreError;

/// The reason of a refusal, for the request log.
#[derive(Clone, Copy)]
pub(crate) struct Reason(pub(crate) &'static str);

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) reason: &'static str,
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        reason: &'static str,
        message: String,
    ) -> Self {
        Self {
            status,
            code,
            message,
            reason,
            retry_after: None,
        }
    }

    pub(crate) fn refused(refusal: Refusal) -> Self {
        if refusal == Refusal::KeysUnavailable {
            let mut e = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "IssuerUnavailable",
                refusal.reason(),
                "the sign-in issuer's keys cannot be fetched; try again later".into(),
            );
            e.retry_after = Some(5);
            return e;
        }
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            refusal.reason(),
            format!("{refusal}; send the app's sign-in token as Authorization: Bearer"),
        )
    }

    pub(crate) fn store(error: &StoreError) -> Self {
        tracing::warn!("{error}");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
            "store",
            "the identity store is unavailable; try again later".into(),
        );
        e.retry_after = Some(1);
        e
    }

    pub(crate) fn acs(error: &acs_identity::Error) -> Self {
        tracing::warn!(%error, "Communication Services refused or failed");
        if let Some(wait) = error.retry_after()
            && matches!(error.status(), Some(429 | 503))
        {
            // A wait longer than the client may make: passed on, not slept on.
            let mut e = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UpstreamBusy",
                "acs_busy",
                "Communication Services is busy; try again after the Retry-After delay".into(),
            );
            e.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
            return e;
        }
        if matches!(
            error,
            acs_identity::Error::Timeout { .. } | acs_identity::Error::Transport(_)
        ) || matches!(error.status(), Some(429 | 503 | 504))
        {
            let mut e = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UpstreamUnavailable",
                "acs_unavailable",
                "Communication Services did not answer in time; try again later".into(),
            );
            e.retry_after = Some(1);
            return e;
        }
        Self::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamFailed",
            "acs",
            "Communication Services did not answer as expected; try again later".into(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Reason(self.reason));
        response
    }
}
