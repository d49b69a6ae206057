//! Every answer becomes this crate's result here: [`answer`] takes what a
//! generated operation returned (every operation, and every page of a
//! list) and gives the status and body, or this crate's [`Error`]: the
//! service's error with the call's request id, a body that is not the JSON
//! the API describes, a body over the limit, a timeout or a transport
//! failure.

use std::time::{Duration, SystemTime};

use progenitor_client::{Error as RawError, ResponseValue};

use crate::convert::ErrorBody;
use crate::error::{
    DecodeError, Error, ErrorDetail, Result, ServiceError, TransportError, snippet,
};
use crate::pipeline::{BodyTooLarge, Call, MAX_RESPONSE_BODY};

/// The status and body of a success answer, or the error.
///
/// A success with a body (any status but 204) must declare JSON, as the API
/// says every body is.
pub(crate) async fn answer<T, E: ErrorBody>(
    result: std::result::Result<ResponseValue<T>, RawError<E>>,
    call: &Call,
) -> Result<(u16, T)> {
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            if status != 204 && !is_json(response.headers()) {
                return Err(not_json(status, response.headers(), call));
            }
            call.keep(response.headers());
            Ok((status, response.into_inner()))
        }
        Err(e) => Err(error(e, call).await),
    }
}

/// Whether the headers declare a JSON body (`application/json` or `…+json`).
fn is_json(headers: &reqwest::header::HeaderMap) -> bool {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media == "application/json" || media.ends_with("+json")
}

/// The decode error for a success answer that is not JSON.
fn not_json(status: u16, headers: &reqwest::header::HeaderMap, call: &Call) -> Error {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (ms_cv, x_azure_ref) = call.correlation();
    Error::Decode(Box::new(DecodeError {
        status: Some(status),
        reason: format!("content type {content_type:?} is not JSON"),
        snippet: String::new(),
        request_id: Some(call.request_id.clone()),
        ms_cv,
        x_azure_ref,
    }))
}

/// For errors that come with no body to parse.
enum NoErrorBody {}

impl ErrorBody for NoErrorBody {
    fn into_parts(self) -> (String, String, Option<String>, Vec<ErrorDetail>) {
        match self {}
    }
}

/// Maps a generated client's error.
async fn error<E: ErrorBody>(err: RawError<E>, call: &Call) -> Error {
    let request_id = Some(call.request_id.clone());
    let ids = Ids::of(call);
    match err {
        RawError::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let retry_after = crate::retry::retry_after(response.headers(), SystemTime::now());
            let (code, message, target, details) = response.into_inner().into_parts();
            Error::Service(Box::new(ServiceError {
                status,
                code: Some(code),
                // A gateway could echo a token in its message.
                message: redact(&message),
                target,
                details,
                request_id,
                retry_after,
                ms_cv: ids.ms_cv,
                x_azure_ref: ids.x_azure_ref,
            }))
        }
        RawError::CommunicationError(e)
        | RawError::ResponseBodyError(e)
        | RawError::InvalidUpgrade(e) => {
            if let Some(refused) = body_too_large(&e) {
                too_large(refused.status, ids)
            } else if e.is_timeout() {
                Error::Timeout {
                    elapsed: call.started.elapsed(),
                    attempts: call.attempts(),
                    request_id,
                }
            } else {
                Error::Transport(TransportError::new(
                    describe(&e),
                    request_id,
                    Some(Box::new(e)),
                ))
            }
        }
        RawError::InvalidResponsePayload(bytes, e) => match call.last_status() {
            Some(s) if s >= 400 => not_the_error_shape(s, &bytes, ids, None),
            status => decode(
                status,
                format!("not the JSON the API describes: {e}"),
                &bytes,
                ids,
            ),
        },
        RawError::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let retry_after = crate::retry::retry_after(response.headers(), SystemTime::now());
            let body = response.bytes().await.unwrap_or_default();
            if status >= 400 {
                not_the_error_shape(status, &body, ids, retry_after)
            } else {
                decode(
                    Some(status),
                    format!("status {status} is not one the API describes"),
                    &body,
                    ids,
                )
            }
        }
        RawError::InvalidRequest(reason) => Error::InvalidArgument {
            name: "request",
            reason,
        },
        RawError::Custom(message) => {
            Error::Transport(TransportError::new(message, request_id, None))
        }
    }
}

/// An error status whose body is not the service's error JSON: the text
/// becomes the message.
fn not_the_error_shape(status: u16, body: &[u8], ids: Ids, retry_after: Option<Duration>) -> Error {
    Error::Service(Box::new(ServiceError {
        status,
        code: None,
        message: redact(&snippet(body)),
        target: None,
        details: vec![],
        request_id: ids.request_id,
        retry_after,
        ms_cv: ids.ms_cv,
        x_azure_ref: ids.x_azure_ref,
    }))
}

/// What identifies an answer: the call's request id, the service's
/// `MS-CV` and `X-Azure-Ref`.
struct Ids {
    request_id: Option<String>,
    ms_cv: Option<String>,
    x_azure_ref: Option<String>,
}

impl Ids {
    fn of(call: &Call) -> Self {
        let (ms_cv, x_azure_ref) = call.correlation();
        Ids {
            request_id: Some(call.request_id.clone()),
            ms_cv,
            x_azure_ref,
        }
    }
}

/// A body over the limit: for an error status, a service error that says so;
/// for a success, a decode error.
fn too_large(status: u16, ids: Ids) -> Error {
    if status >= 400 {
        return Error::Service(Box::new(ServiceError {
            status,
            code: None,
            message: format!(
                "(the body is larger than {MAX_RESPONSE_BODY} bytes and was not read)"
            ),
            target: None,
            details: vec![],
            request_id: ids.request_id,
            retry_after: None,
            ms_cv: ids.ms_cv,
            x_azure_ref: ids.x_azure_ref,
        }));
    }
    decode(
        Some(status),
        format!("the body is larger than {MAX_RESPONSE_BODY} bytes"),
        b"",
        ids,
    )
}

/// The [`BodyTooLarge`] a body read failed with, if that is why.
fn body_too_large(e: &reqwest::Error) -> Option<&BodyTooLarge> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<BodyTooLarge>() {
            return Some(refused);
        }
        cause = c.source();
    }
    None
}

/// Reads a byte stream answer (the bulk update's), bounded by the pipeline.
pub(crate) async fn bytes(stream: progenitor_client::ByteStream, call: &Call) -> Result<Vec<u8>> {
    use futures_util::TryStreamExt as _;
    match stream
        .into_inner()
        .try_fold(Vec::new(), |mut acc, chunk| async move {
            acc.extend_from_slice(&chunk);
            Ok(acc)
        })
        .await
    {
        Ok(body) => Ok(body),
        Err(e) => Err(error::<NoErrorBody>(RawError::ResponseBodyError(e), call).await),
    }
}

/// Decodes a success body read as bytes (the bulk update's), with the same
/// error as a body the generated code could not decode.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
    call: &Call,
) -> crate::Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        decode(
            Some(status),
            format!("not the JSON the API describes: {e}"),
            body,
            Ids::of(call),
        )
    })
}

fn decode(status: Option<u16>, reason: String, body: &[u8], ids: Ids) -> Error {
    Error::Decode(Box::new(DecodeError {
        status,
        reason,
        snippet: redact(&snippet(body)),
        request_id: ids.request_id,
        ms_cv: ids.ms_cv,
        x_azure_ref: ids.x_azure_ref,
    }))
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the connection failed"
    };
    // The whole chain of causes, down to the one that says what happened
    // (connection refused, a DNS failure, the certificate the TLS handshake
    // refused): reqwest's own first cause is only "client error (Connect)".
    // reqwest's text may hold the URL; it carries no credentials.
    let mut text = kind.to_string();
    let mut last = String::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let part = c.to_string();
        // Some layers repeat their cause's text in their own.
        if !part.is_empty() && !last.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        last = part;
        cause = c.source();
    }
    text
}

/// Hides anything in error text that could be a token: long runs of
/// base64/base64url characters (JWTs, keys, signatures).
pub(crate) fn redact(text: &str) -> String {
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 40 {
            out.push_str("***")
        } else {
            out.push_str(run)
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Idempotency;
    use proptest::prelude::*;

    type RawErrorBody = acs_identity_raw::v2025_06_30::types::CommunicationErrorResponse;

    fn call_with_status(status: u16) -> Call {
        let call = Call::new(Idempotency::Safe, None);
        call.note_status(status);
        call
    }

    /// The error-body parser, as the generated client and this module run it:
    /// the service's JSON when it parses, the text otherwise.
    fn map_body(status: u16, body: &[u8]) -> Error {
        let call = call_with_status(status);
        let err = match serde_json::from_slice::<RawErrorBody>(body) {
            Ok(parsed) => {
                let code = reqwest::StatusCode::from_u16(status).unwrap();
                RawError::ErrorResponse(ResponseValue::new(parsed, code, Default::default()))
            }
            Err(e) => RawError::InvalidResponsePayload(bytes::Bytes::copy_from_slice(body), e),
        };
        futures_util::FutureExt::now_or_never(error(err, &call)).expect("mapping does not wait")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_error_body_is_a_service_error_with_its_status(status in 400u16..600, body in prop::collection::vec(any::<u8>(), 0..400)) {
            match map_body(status, &body) {
                Error::Service(e) => {
                    prop_assert_eq!(e.status, status);
                    prop_assert!(e.message.len() <= 3 * crate::error::SNIPPET_LEN + 3);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn service_error_json_keeps_code_message_and_target(
            status in 400u16..600,
            code in "[A-Za-z]{1,20}",
            message in "[ -~]{0,80}",
            target in prop::option::of("[A-Za-z]{1,20}"),
        ) {
            let mut error = serde_json::json!({"code": code, "message": message});
            if let Some(t) = &target { error["target"] = serde_json::json!(t); }
            let body = serde_json::json!({"error": error}).to_string();
            let Error::Service(e) = map_body(status, body.as_bytes()) else { panic!() };
            prop_assert_eq!(e.code.as_deref(), Some(code.as_str()));
            prop_assert_eq!(e.message, redact(&message));
            prop_assert_eq!(e.target, target);
        }
    }

    #[test]
    fn redact_hides_tokens_but_keeps_ids_and_words() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let text = format!(
            r#"{{"token":"{jwt}","id":"2dee53b4-368b-45b4-ab52-8493fb117652"}} bad gateway"#
        );
        let r = redact(&text);
        assert!(!r.contains("eyJ"), "{r}");
        assert!(r.contains("2dee53b4-368b-45b4-ab52-8493fb117652"));
        assert!(r.ends_with("bad gateway"));
    }
}
