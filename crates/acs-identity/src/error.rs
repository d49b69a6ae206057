//! The one error type of the crate.

use std::fmt;
use std::time::Duration;

use crate::connection_string::ConnectionStringError;

/// A `Result` whose error is [`Error`].
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, Result};
///
/// fn client(connection_string: &str) -> Result<CommunicationIdentityClient> {
///     CommunicationIdentityClient::from_connection_string(connection_string)
/// }
/// assert!(client("endpoint=https://my-resource.communication.azure.com;accesskey=c2VjcmV0").is_ok());
/// assert!(client("accesskey=c2VjcmV0").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call.
///
/// No variant's `Display` or `Debug` contains an access key, a token or a
/// signature.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, Error};
///
/// let err = CommunicationIdentityClient::from_connection_string("endpoint=https://x.example").unwrap_err();
/// assert!(matches!(err, Error::ConnectionString(_)));
/// assert_eq!(err.to_string(), "invalid connection string: no `accesskey`");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string could not be parsed.
    #[error("invalid connection string: {0}")]
    ConnectionString(#[from] ConnectionStringError),
    /// An argument was refused before any request was sent.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The endpoint is plain `http://` to a host other than this machine:
    /// the access key's signatures (replayable for 15 minutes) and the
    /// tokens in the answers would cross the network in clear text. Use
    /// `https://`, or allow it with
    /// [`ClientBuilder::allow_insecure_http`](crate::ClientBuilder::allow_insecure_http).
    #[error(
        "refusing plain http to `{host}`: credentials and tokens would cross the network in clear text; use https, or allow_insecure_http(true) for a trusted network"
    )]
    InsecureEndpoint {
        /// The endpoint's host.
        host: String,
    },
    /// The token credential could not produce a token.
    #[error("credential failed: {message}")]
    Credential {
        /// What went wrong.
        message: String,
        /// The credential's own error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The service answered with an error status.
    #[error("{0}")]
    Service(Box<ServiceError>),
    /// The request could not be sent or its response not received.
    #[error("{0}")]
    Transport(TransportError),
    /// The call's deadline, or the last try's timeout, passed.
    #[error("timed out after {elapsed:?} ({attempts} attempt(s)){}", request_id_suffix(request_id.as_deref()))]
    Timeout {
        /// Time from the start of the call.
        elapsed: Duration,
        /// Attempts made.
        attempts: u32,
        /// The `x-ms-client-request-id` of the call.
        request_id: Option<String>,
    },
    /// The service answered with a success status, but the body was not what
    /// the API describes.
    #[error("{0}")]
    Decode(Box<DecodeError>),
}

impl Error {
    /// The HTTP status, for service and decode errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{CommunicationUserIdentifier, TokenScope};
    ///
    /// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
    /// let err = client.get_token(&unknown, [TokenScope::Chat]).await.unwrap_err();
    /// assert_eq!(err.status(), Some(404));
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service(e) => Some(e.status),
            Error::Decode(e) => e.status,
            _ => None,
        }
    }

    /// The service's error code (`ValidationError`, `IdentityNotFound`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{CommunicationUserIdentifier, TokenScope};
    ///
    /// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
    /// let err = client.get_token(&unknown, [TokenScope::Chat]).await.unwrap_err();
    /// assert_eq!(err.code(), Some("IdentityNotFound"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.code.as_deref(),
            _ => None,
        }
    }

    /// True for a 404 answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TokenScope;
    ///
    /// let user = client.create_user().await?;
    /// client.delete_user(&user).await?;
    /// let err = client.get_token(&user, [TokenScope::Chat]).await.unwrap_err();
    /// assert!(err.is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when trying the same call again later may succeed (throttling,
    /// a server error, a transport failure or a timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("503".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions};
    ///
    /// // A service that answers 503 Service Unavailable, and a client that does not retry.
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .retry(RetryOptions::none())
    ///     .build()?;
    /// let err = client.create_user().await.unwrap_err();
    /// assert_eq!(err.status(), Some(503));
    /// assert!(err.is_retryable());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service(e) => crate::retry::RETRY_STATUSES.contains(&e.status),
            Error::Transport(_) | Error::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The `x-ms-client-request-id` the call was sent with, where known.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{CommunicationUserIdentifier, TokenScope};
    ///
    /// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
    /// let err = client.get_token(&unknown, [TokenScope::Chat]).await.unwrap_err();
    /// // Quote it when asking for support: the service logs it.
    /// let request_id = err.request_id().expect("the request was sent");
    /// assert_eq!(request_id.len(), 36); // a UUID
    /// # Ok(())
    /// # }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.request_id.as_deref(),
            Error::Transport(e) => e.request_id.as_deref(),
            Error::Timeout { request_id, .. } => request_id.as_deref(),
            Error::Decode(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    /// The wait the service asked for with its last answer (`Retry-After`
    /// or its millisecond forms), for a service error. The client returns
    /// such an answer at once when the wait is longer than its retry
    /// options or deadline allow; a server in front of it can pass it on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("429/retry-after=20".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    /// use std::time::Duration;
    ///
    /// // Throttled for 20 s, with a deadline of 5 s: no wait, the answer now.
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .deadline(Duration::from_secs(5))
    ///     .build()?;
    /// let err = client.create_user().await.unwrap_err();
    /// assert_eq!(err.status(), Some(429));
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(20)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Service(e) => e.retry_after,
            _ => None,
        }
    }

    /// The service's correlation vector (`MS-CV` header) of the answer
    /// behind a service or decode error, if it sent one. Azure
    /// Communication Services support asks for it, with
    /// [`azure_ref`](Self::azure_ref) and [`request_id`](Self::request_id);
    /// `Display` shows all three.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{CommunicationUserIdentifier, TokenScope};
    ///
    /// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
    /// let err = client.get_token(&unknown, [TokenScope::Chat]).await.unwrap_err();
    /// let ms_cv = err.ms_cv().expect("the service sends MS-CV");
    /// assert!(err.to_string().contains(&format!("MS-CV {ms_cv}")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn ms_cv(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.ms_cv.as_deref(),
            Error::Decode(e) => e.ms_cv.as_deref(),
            _ => None,
        }
    }

    /// The `X-Azure-Ref` header of the answer behind a service or decode
    /// error (Azure Front Door's reference for the request), if sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{CommunicationUserIdentifier, TokenScope};
    ///
    /// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
    /// let err = client.get_token(&unknown, [TokenScope::Chat]).await.unwrap_err();
    /// let azure_ref = err.azure_ref().expect("the service sends X-Azure-Ref");
    /// assert!(err.to_string().contains(&format!("X-Azure-Ref {azure_ref}")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn azure_ref(&self) -> Option<&str> {
        match self {
            Error::Service(e) => e.x_azure_ref.as_deref(),
            Error::Decode(e) => e.x_azure_ref.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

fn request_id_suffix(id: Option<&str>) -> String {
    id.map(|id| format!(", request id {id}"))
        .unwrap_or_default()
}

/// `, request id …, MS-CV …, X-Azure-Ref …`, for those known.
fn correlation_suffix(
    request_id: Option<&str>,
    ms_cv: Option<&str>,
    azure_ref: Option<&str>,
) -> String {
    let mut text = request_id_suffix(request_id);
    if let Some(cv) = ms_cv {
        text.push_str(", MS-CV ");
        text.push_str(cv);
    }
    if let Some(r) = azure_ref {
        text.push_str(", X-Azure-Ref ");
        text.push_str(r);
    }
    text
}

/// An error answer from the service.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{CommunicationUserIdentifier, Error, TokenScope};
///
/// let unknown: CommunicationUserIdentifier = "8:acs:resource_00000000-0000-0000-0000-000000000000".parse()?;
/// match client.get_token(&unknown, [TokenScope::Chat]).await {
///     Err(Error::Service(service)) => {
///         assert_eq!(service.status, 404);
///         assert_eq!(service.code.as_deref(), Some("IdentityNotFound"));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// The service's error code, when the body carried one.
    pub code: Option<String>,
    /// The service's message, or the body's text when it was not the
    /// service's error JSON.
    pub message: String,
    /// What the error is about (`ExpiresInMinutes`, `appId`, …).
    pub target: Option<String>,
    /// Further errors that led to this one.
    pub details: Vec<ErrorDetail>,
    /// The `x-ms-client-request-id` of the call.
    pub request_id: Option<String>,
    /// The wait the service asked for with this answer (`Retry-After`,
    /// `retry-after-ms` or `x-ms-retry-after-ms`), if any.
    pub retry_after: Option<Duration>,
    /// The service's correlation vector (`MS-CV`) of this answer, if sent:
    /// what Azure Communication Services support asks for.
    pub ms_cv: Option<String>,
    /// The `X-Azure-Ref` of this answer (Azure Front Door's reference), if sent.
    pub x_azure_ref: Option<String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service error {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(target) = &self.target {
            write!(f, " (target {target})")?;
        }
        f.write_str(&correlation_suffix(
            self.request_id.as_deref(),
            self.ms_cv.as_deref(),
            self.x_azure_ref.as_deref(),
        ))
    }
}

/// One entry of [`ServiceError::details`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = httpmock::MockServer::start_async().await;
/// # server.mock_async(|when, then| {
/// #     when.any_request();
/// #     then.status(400).header("content-type", "application/json").json_body(serde_json::json!({"error": {
/// #         "code": "ValidationError", "message": "The request is not valid.",
/// #         "details": [{"code": "InvalidScope", "message": "Unknown scope.", "target": "scopes"}]}}));
/// # }).await;
/// # let client = acs_identity::CommunicationIdentityClient::builder(&server.base_url())
/// #     .access_key(acs_identity::AccessKey::new("c2VjcmV0")?)
/// #     .build()?;
/// # let user: acs_identity::CommunicationUserIdentifier = "8:acs:resource_user".parse()?;
/// use acs_identity::{Error, TokenScope};
///
/// // A service that explains a 400 with details.
/// let err = client.get_token(&user, [TokenScope::Other("video".into())]).await.unwrap_err();
/// let Error::Service(service) = err else { panic!("{err}") };
/// let detail = &service.details[0];
/// assert_eq!((detail.code.as_str(), detail.target.as_deref()), ("InvalidScope", Some("scopes")));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
    /// The target, if any.
    pub target: Option<String>,
}

/// The request failed below HTTP (connection refused or reset, TLS, a body
/// that could not be read).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let endpoint = { let closed = std::net::TcpListener::bind("127.0.0.1:0")?; format!("http://{}/", closed.local_addr()?) };
/// use acs_identity::{AccessKey, CommunicationIdentityClient, Error, RetryOptions};
///
/// // Nothing listens at the endpoint.
/// let client = CommunicationIdentityClient::builder(&endpoint)
///     .access_key(AccessKey::new("c2VjcmV0")?)
///     .retry(RetryOptions::none())
///     .build()?;
/// let err = client.create_user().await.unwrap_err();
/// assert!(matches!(err, Error::Transport(_)));
/// assert!(err.is_retryable());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("transport error: {message}{}", request_id_suffix(request_id.as_deref()))]
pub struct TransportError {
    message: String,
    request_id: Option<String>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn new(
        message: impl Into<String>,
        request_id: Option<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            request_id,
            source,
        }
    }

    /// True when no connection could be made (nothing reached the service).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let endpoint = { let closed = std::net::TcpListener::bind("127.0.0.1:0")?; format!("http://{}/", closed.local_addr()?) };
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, Error, RetryOptions};
    ///
    /// // Nothing listens at the endpoint: the user was certainly not created.
    /// let client = CommunicationIdentityClient::builder(&endpoint)
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .retry(RetryOptions::none())
    ///     .build()?;
    /// let Err(Error::Transport(transport)) = client.create_user().await else { panic!() };
    /// assert!(transport.is_connect());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_connect(&self) -> bool {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_connect)
    }
}

/// A response the client could not decode.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = httpmock::MockServer::start_async().await;
/// # server.mock_async(|when, then| {
/// #     when.any_request();
/// #     then.status(201).header("content-type", "application/json").body(r#"{"id":"8:acs:resource_user"}"#);
/// # }).await;
/// # let client = acs_identity::CommunicationIdentityClient::builder(&server.base_url())
/// #     .access_key(acs_identity::AccessKey::new("c2VjcmV0")?)
/// #     .build()?;
/// use acs_identity::Error;
///
/// // Something answered 201 with a body that is not the API's.
/// let err = client.create_user().await.unwrap_err();
/// let Error::Decode(decode) = err else { panic!("{err}") };
/// assert_eq!(decode.status, Some(201));
/// assert!(decode.snippet.starts_with(r#"{"id""#));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable response{}: {reason}; body starts {snippet:?}{}", status.map(|s| format!(" (status {s})")).unwrap_or_default(), correlation_suffix(request_id.as_deref(), ms_cv.as_deref(), x_azure_ref.as_deref()))]
#[non_exhaustive]
pub struct DecodeError {
    /// HTTP status, where known.
    pub status: Option<u16>,
    /// Why decoding failed.
    pub reason: String,
    /// The first bytes of the body (at most 256), as text.
    pub snippet: String,
    /// The `x-ms-client-request-id` of the call.
    pub request_id: Option<String>,
    /// The service's correlation vector (`MS-CV`) of the answer, if sent.
    pub ms_cv: Option<String>,
    /// The `X-Azure-Ref` of the answer, if sent.
    pub x_azure_ref: Option<String>,
}

/// The longest body snippet kept in errors.
pub(crate) const SNIPPET_LEN: usize = 256;

/// The first [`SNIPPET_LEN`] bytes of a body, as lossy UTF-8 cut on a
/// character boundary.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_LEN)]).into_owned();
    text.trim_end_matches('\u{fffd}').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_error_display_names_status_code_message_and_target() {
        let e = Error::Service(Box::new(ServiceError {
            status: 400,
            code: Some("ValidationError".into()),
            message: "ExpiresInMinutes value 59 is invalid.".into(),
            target: Some("ExpiresInMinutes".into()),
            details: vec![],
            request_id: Some("abc".into()),
            retry_after: None,
            ms_cv: Some("Xy12AbCdEfGhIjKlMnOpQr.0".into()),
            x_azure_ref: Some("20250101T000000Z-0123456789abcdef".into()),
        }));
        assert_eq!(
            e.to_string(),
            "service error 400 ValidationError: ExpiresInMinutes value 59 is invalid. (target ExpiresInMinutes), request id abc, MS-CV Xy12AbCdEfGhIjKlMnOpQr.0, X-Azure-Ref 20250101T000000Z-0123456789abcdef"
        );
        assert_eq!(e.ms_cv(), Some("Xy12AbCdEfGhIjKlMnOpQr.0"));
        assert_eq!(e.azure_ref(), Some("20250101T000000Z-0123456789abcdef"));
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.code(), Some("ValidationError"));
        assert!(!e.is_retryable());
        assert!(!e.is_not_found());
        assert_eq!(e.request_id(), Some("abc"));
    }

    #[test]
    fn retryable_and_not_found_follow_the_status() {
        let service = |status| {
            Error::Service(Box::new(ServiceError {
                status,
                code: None,
                message: String::new(),
                target: None,
                details: vec![],
                request_id: None,
                retry_after: None,
                ms_cv: None,
                x_azure_ref: None,
            }))
        };
        assert!(service(503).is_retryable());
        assert!(service(429).is_retryable());
        assert!(!service(401).is_retryable());
        assert!(service(404).is_not_found());
        assert_eq!(service(500).to_string(), "service error 500");
    }

    #[test]
    fn snippet_is_bounded_and_cut_on_a_character() {
        let body = "é".repeat(200);
        let s = snippet(body.as_bytes());
        assert!(s.len() <= SNIPPET_LEN);
        assert!(s.chars().all(|c| c == 'é'));
    }

    #[test]
    fn error_is_send_sync_and_std_error() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
