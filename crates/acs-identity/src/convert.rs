//! From the generated types and errors to this crate's.

use acs_identity_raw as raw;
use progenitor_client::Error as RawError;
#[cfg(test)]
use progenitor_client::ResponseValue;

use crate::assignment::{EntraAssignment, TeamsExtensionAssignment};
use crate::error::{DecodeError, Error, ErrorDetail, ServiceError, TransportError, snippet};
use crate::identifier::CommunicationUserIdentifier;
use crate::pipeline::{Call, MAX_RESPONSE_BODY};
use crate::token::{AccessToken, CommunicationUserAndToken};

/// The parts of a generated error body.
pub(crate) trait ErrorBody {
    fn into_parts(self) -> (String, String, Option<String>, Vec<ErrorDetail>);
}

macro_rules! conversions {
    ($m:ident) => {
        impl ErrorBody for raw::$m::types::CommunicationErrorResponse {
            fn into_parts(self) -> (String, String, Option<String>, Vec<ErrorDetail>) {
                let e = self.error;
                let details = e
                    .details
                    .into_iter()
                    .map(|d| ErrorDetail {
                        code: d.code,
                        message: d.message,
                        target: d.target,
                    })
                    .collect();
                (e.code, e.message, e.target, details)
            }
        }

        impl From<raw::$m::types::CommunicationIdentityAccessToken> for AccessToken {
            fn from(t: raw::$m::types::CommunicationIdentityAccessToken) -> Self {
                AccessToken::new(t.token, t.expires_on)
            }
        }

        impl From<raw::$m::types::TeamsExtensionAssignmentResponse> for TeamsExtensionAssignment {
            fn from(a: raw::$m::types::TeamsExtensionAssignmentResponse) -> Self {
                TeamsExtensionAssignment {
                    tenant_id: a.tenant_id,
                    object_id: a.object_id,
                    principal_type: a
                        .principal_type
                        .0
                        .parse()
                        .unwrap_or_else(|never| match never {}),
                    client_ids: a.client_ids,
                }
            }
        }

        impl UserAndToken for raw::$m::types::CommunicationIdentityAccessTokenResult {
            fn into_user_and_token(self) -> (CommunicationUserIdentifier, Option<AccessToken>) {
                (
                    CommunicationUserIdentifier::from_service(self.identity.id),
                    self.access_token.map(Into::into),
                )
            }
        }
    };
}

conversions!(v2025_06_30);
conversions!(v2025_03_02_preview);

impl From<raw::v2025_03_02_preview::types::EntraAssignment> for EntraAssignment {
    fn from(a: raw::v2025_03_02_preview::types::EntraAssignment) -> Self {
        EntraAssignment {
            object_id: a.object_id,
            tenant_id: a.tenant_id,
            principal_type: a
                .principal_type
                .0
                .parse()
                .unwrap_or_else(|never| match never {}),
            client_ids: a.client_ids,
        }
    }
}

/// A create or exchange result: the user, and the token when one was issued.
pub(crate) trait UserAndToken {
    fn into_user_and_token(self) -> (CommunicationUserIdentifier, Option<AccessToken>);
}

/// A user and token, where the operation promises a token.
pub(crate) fn require_token(
    result: impl UserAndToken,
    call: &Call,
    status: u16,
) -> crate::Result<CommunicationUserAndToken> {
    match result.into_user_and_token() {
        (user, Some(access_token)) => Ok(CommunicationUserAndToken { user, access_token }),
        (_, None) => Err(Error::Decode(Box::new(DecodeError {
            status: Some(status),
            reason: "the response has no `accessToken`".into(),
            snippet: String::new(),
            request_id: Some(call.request_id.clone()),
        }))),
    }
}

/// Maps a generated client's error, with what the pipeline recorded.
pub(crate) async fn error<E: ErrorBody>(err: RawError<E>, call: &Call) -> Error {
    let record = call.record();
    let request_id = Some(call.request_id.clone());
    match err {
        RawError::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let (code, message, target, details) = response.into_inner().into_parts();
            Error::Service(Box::new(ServiceError {
                status,
                code: Some(code),
                // A gateway could echo a token in its message.
                message: redact(&message),
                target,
                details,
                request_id,
            }))
        }
        RawError::CommunicationError(e)
        | RawError::ResponseBodyError(e)
        | RawError::InvalidUpgrade(e) => {
            if e.is_timeout() {
                Error::Timeout {
                    elapsed: call.started.elapsed(),
                    attempts: record.attempts,
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
        RawError::InvalidResponsePayload(bytes, e) => {
            let status = record.last_status;
            match (status, record.body_too_large) {
                (Some(s), true) if s >= 400 => Error::Service(Box::new(ServiceError {
                    status: s,
                    code: None,
                    message: format!(
                        "(the body is larger than {MAX_RESPONSE_BODY} bytes and was not read)"
                    ),
                    target: None,
                    details: vec![],
                    request_id,
                })),
                (_, true) => decode(
                    status,
                    format!("the body is larger than {MAX_RESPONSE_BODY} bytes"),
                    b"",
                    request_id,
                ),
                (Some(s), false) if s >= 400 => not_the_error_shape(s, &bytes, request_id),
                _ => decode(
                    status,
                    format!("not the JSON the API describes: {e}"),
                    &bytes,
                    request_id,
                ),
            }
        }
        RawError::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            if status >= 400 {
                not_the_error_shape(status, &body, request_id)
            } else {
                decode(
                    Some(status),
                    format!("status {status} is not one the API describes"),
                    &body,
                    request_id,
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
fn not_the_error_shape(status: u16, body: &[u8], request_id: Option<String>) -> Error {
    Error::Service(Box::new(ServiceError {
        status,
        code: None,
        message: redact(&snippet(body)),
        target: None,
        details: vec![],
        request_id,
    }))
}

/// Decodes a success body the client read itself (list pages, the bulk
/// update), with the same error as a body the generated code could not decode.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
    call: &Call,
) -> crate::Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        decode(
            Some(status),
            format!("not the JSON the API describes: {e}"),
            body,
            Some(call.request_id.clone()),
        )
    })
}

fn decode(status: Option<u16>, reason: String, body: &[u8], request_id: Option<String>) -> Error {
    Error::Decode(Box::new(DecodeError {
        status,
        reason,
        snippet: redact(&snippet(body)),
        request_id,
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

    type RawErrorBody = raw::v2025_06_30::types::CommunicationErrorResponse;

    fn call_with_status(status: u16) -> std::sync::Arc<Call> {
        let call = Call::new(Idempotency::Safe, None);
        call.record.lock().unwrap().last_status = Some(status);
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
