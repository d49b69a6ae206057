//! The responses the emulator sends: JSON answers, the service's error
//! shape, or no answer at all (a dropped connection).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::api_error::ApiError;

/// What the connection does after a request.
pub enum Reply {
    /// Send this response.
    Send(Response<Full<Bytes>>),
    /// Close the connection without answering (fault injection).
    Drop,
}

/// A response with `status` and, when given, `body` as JSON.
pub fn json(status: u16, body: Option<&Value>) -> Response<Full<Bytes>> {
    let mut resp = match body {
        Some(b) => {
            // `to_vec` writes through `io::Write`, not the `fmt::Write` path
            // of `to_string`: the same bytes, measured faster (docs/benchmarks.md,
            // round 1). A `Value` always serializes.
            let bytes = serde_json::to_vec(b).unwrap_or_default();
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
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

/// The service's error answer for `e`: its content type is
/// `application/json`, without the charset its successful answers carry.
pub fn error(e: &ApiError) -> Response<Full<Bytes>> {
    let mut resp = json(e.status, Some(&e.body()));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Adds what the service sends on every answer to find it again in its
/// logs: `MS-CV` (a correlation vector: a random base, `.0` for the first
/// hop) and `X-Azure-Ref` (Azure Front Door's reference: the time and a
/// random part).
pub fn correlate(headers: &mut hyper::HeaderMap, time: chrono::DateTime<chrono::Utc>) {
    let base: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(22)
        .collect();
    let cv = format!("{base}.0");
    let azure_ref = format!(
        "{}-{:016x}{:08x}",
        time.format("%Y%m%dT%H%M%SZ"),
        fastrand::u64(..),
        fastrand::u32(..)
    );
    for (name, value) in [("ms-cv", cv), ("x-azure-ref", azure_ref)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}
