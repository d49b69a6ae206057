//! What happens to every request between the generated operation and reqwest.
//!
//! The generated operation builds the request and hands it to the raw
//! crate's hook, which calls the call's [`CallTransport`] (the `Transport`),
//! which runs the pipeline. For each attempt, in order:
//!
//! 1. a copy of the request gets the call's own headers (per-call options;
//!    never one of the pipeline's), the call's `x-ms-client-request-id`
//!    (the same on every attempt), the `User-Agent`, and fresh
//!    authentication: an HMAC signature over this attempt's date, or the
//!    bearer token;
//! 2. it is sent with a timeout of the per-try limit or what is left of the
//!    call's deadline (its own per-call timeout, else the client's),
//!    whichever is shorter;
//! 3. the response body is read into memory, refusing more than
//!    [`MAX_RESPONSE_BODY`] bytes;
//! 4. the outcome is classified ([`crate::retry`]); a retryable outcome with
//!    retries and time left waits (`Retry-After`, or backoff) and goes again.
//!    A requested wait longer than the retry options' `max_delay`, or one
//!    that would pass the deadline, ends the call with that answer at once.
//!
//! Each call's facts (request id, idempotency, bearer token, a page's
//! `nextLink`) travel with it: the client method makes a [`Call`] and a
//! generated client for that call whose `Inner` holds a [`CallTransport`],
//! so the hook hands each request to the pipeline together with its call.
//! The pipeline counts the call's attempts and notes the last status in the
//! `Call`; a body over the limit travels in the response itself, as a body
//! that fails with [`BodyTooLarge`] when read.

use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderName, HeaderValue};
use tokio::time::Instant;
use tracing::Instrument as _;
use url::Url;

use crate::credential::Auth;
use crate::pending::CallOptions;
use crate::retry::{self, Idempotency, Outcome, RetryOptions};

/// The largest response body read; a larger one is refused unread.
///
/// # Examples
///
/// ```
/// assert_eq!(acs_identity::MAX_RESPONSE_BODY, 16 * 1024 * 1024);
/// ```
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// A source of the current time (for `x-ms-date` and `Retry-After` dates).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The transport behind every client.
pub(crate) struct Pipeline {
    pub(crate) auth: Auth,
    pub(crate) retry: RetryOptions,
    pub(crate) per_try_timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("per_try_timeout", &self.per_try_timeout)
            .field("deadline", &self.deadline)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// One logical call: what the client method knows before it sends, and
/// what the pipeline counts while it sends.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) request_id: String,
    pub(crate) idempotency: Idempotency,
    /// A bearer token for this call (Entra auth, or the user's token for the
    /// token-exchange operations); without one, the access key signs.
    pub(crate) bearer: Option<String>,
    pub(crate) started: Instant,
    /// Sent here instead of the generated URL: the `nextLink` of a page,
    /// checked by the client to be on the endpoint.
    pub(crate) next_link: Option<Url>,
    attempts: AtomicU32,
    last_status: AtomicU16,
    /// The `MS-CV` and `X-Azure-Ref` of the last answer, as sent.
    correlation: Mutex<(Option<HeaderValue>, Option<HeaderValue>)>,
    /// The call's own deadline (per-call `timeout`), in place of the client's.
    pub(crate) deadline: Option<Duration>,
    /// Headers the call adds to each attempt (checked: none of the pipeline's).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether the answer's headers are kept for a `Response`.
    pub(crate) keep_headers: bool,
    answer_headers: Mutex<Option<reqwest::header::HeaderMap>>,
}

impl Call {
    pub(crate) fn new(idempotency: Idempotency, bearer: Option<String>) -> Self {
        Self {
            // A version 4 UUID from the thread's fast generator: a
            // correlation id needs no OS randomness (a system call per call).
            request_id: uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .to_owned(),
            idempotency,
            bearer,
            started: Instant::now(),
            next_link: None,
            attempts: AtomicU32::new(0),
            last_status: AtomicU16::new(0),
            correlation: Mutex::new((None, None)),
            deadline: None,
            headers: Vec::new(),
            keep_headers: false,
            answer_headers: Mutex::new(None),
        }
    }

    /// The call with its per-call options.
    pub(crate) fn with_options(mut self, options: CallOptions) -> Self {
        self.deadline = options.timeout;
        self.headers = options.headers;
        self.keep_headers = options.keep_headers;
        self
    }

    /// Keeps the headers of the answer, when the call wants them.
    pub(crate) fn keep(&self, headers: &reqwest::header::HeaderMap) {
        if self.keep_headers {
            *self
                .answer_headers
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(headers.clone());
        }
    }

    /// The headers kept, or none.
    pub(crate) fn take_headers(&self) -> reqwest::header::HeaderMap {
        if !self.keep_headers {
            return reqwest::header::HeaderMap::new();
        }
        self.answer_headers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    }

    /// The deadline of this call: its own, else the client's.
    fn deadline_or(&self, client: Option<Duration>) -> Option<Duration> {
        self.deadline.or(client)
    }

    /// Attempts made.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Notes the status of an answer.
    pub(crate) fn note_status(&self, status: u16) {
        self.last_status.store(status, Ordering::Relaxed);
    }

    /// Notes the `MS-CV` and `X-Azure-Ref` of an answer (a reference
    /// count each: header values share the response's buffer).
    pub(crate) fn note_correlation(&self, headers: &reqwest::header::HeaderMap) {
        let noted = (
            headers.get(&MS_CV).cloned(),
            headers.get(&X_AZURE_REF).cloned(),
        );
        *self.correlation.lock().unwrap_or_else(|e| e.into_inner()) = noted;
    }

    /// The `MS-CV` and `X-Azure-Ref` of the last answer, when it sent them
    /// as visible ASCII of at most [`MAX_CORRELATION_LEN`] bytes.
    pub(crate) fn correlation(&self) -> (Option<String>, Option<String>) {
        let noted = self.correlation.lock().unwrap_or_else(|e| e.into_inner());
        let text = |v: &Option<HeaderValue>| {
            v.as_ref()
                .filter(|v| v.len() <= MAX_CORRELATION_LEN)
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        (text(&noted.0), text(&noted.1))
    }

    /// The status of the last answer, if any came.
    pub(crate) fn last_status(&self) -> Option<u16> {
        Some(self.last_status.load(Ordering::Relaxed)).filter(|&s| s != 0)
    }
}

/// A response body longer than [`MAX_RESPONSE_BODY`]: what reading such a
/// body fails with (the error's source), with the response's status.
#[derive(Debug)]
pub(crate) struct BodyTooLarge {
    pub(crate) status: u16,
}

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the body is larger than {MAX_RESPONSE_BODY} bytes and was not read"
        )
    }
}

impl std::error::Error for BodyTooLarge {}

/// The transport of one call: the client's pipeline and the call.
#[derive(Debug)]
pub(crate) struct CallTransport {
    pipeline: Arc<Pipeline>,
    call: Arc<Call>,
}

impl Pipeline {
    /// The `Inner` of a generated client that sends `call`.
    pub(crate) fn for_call(self: &Arc<Self>, call: &Arc<Call>) -> acs_identity_raw::Inner {
        acs_identity_raw::Inner::with_transport(Arc::new(CallTransport {
            pipeline: Arc::clone(self),
            call: Arc::clone(call),
        }))
    }
}

/// The longest `MS-CV` or `X-Azure-Ref` kept in errors.
const MAX_CORRELATION_LEN: usize = 256;

pub(crate) static MS_CV: HeaderName = HeaderName::from_static("ms-cv");
pub(crate) static X_AZURE_REF: HeaderName = HeaderName::from_static("x-azure-ref");
static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");
static RETURN_CLIENT_REQUEST_ID: HeaderName =
    HeaderName::from_static("x-ms-return-client-request-id");

impl acs_identity_raw::Transport for CallTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        operation_id: &'static str,
    ) -> acs_identity_raw::BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let call = &*self.call;
        if let Some(link) = &call.next_link {
            *request.url_mut() = link.clone();
        }
        // Named as Azure SDKs and OpenTelemetry's HTTP conventions name
        // them; `otel.name` and `otel.kind` are read by tracing-opentelemetry.
        // No header, body or query goes in: the URL's path and host hold
        // no secret, but none is needed.
        let span = tracing::info_span!(
            "acs_identity.call",
            "otel.name" = operation_id,
            "otel.kind" = "client",
            "az.namespace" = "Microsoft.Communication",
            operation = operation_id,
            request_id = %call.request_id,
            "az.client_request_id" = %call.request_id,
            "http.request.method" = %request.method(),
            "server.address" = request.url().host_str().unwrap_or_default(),
            "server.port" = request.url().port_or_known_default(),
            "http.response.status_code" = tracing::field::Empty,
            "az.service_request_id" = tracing::field::Empty,
            "http.request.resend_count" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
        );
        // Entering and leaving a span on every poll costs even when no
        // subscriber wants it; a disabled span is left out.
        if span.is_disabled() {
            Box::pin(self.pipeline.run(client, request, call))
        } else {
            let recorded = span.clone();
            let run = async move {
                let result = self.pipeline.run(client, request, call).await;
                record_outcome(&recorded, &result, call);
                result
            };
            Box::pin(run.instrument(span))
        }
    }
}

/// Records on the call's span what became of it: the status and the
/// service's request id (`x-ms-request-id`, else the `MS-CV` ACS sends), or
/// the kind of failure; and the number of retries, when there were any.
fn record_outcome(span: &tracing::Span, result: &reqwest::Result<reqwest::Response>, call: &Call) {
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            span.record("http.response.status_code", status);
            let headers = response.headers();
            if let Some(id) = headers
                .get("x-ms-request-id")
                .or_else(|| headers.get(&MS_CV))
                .and_then(|v| v.to_str().ok())
            {
                span.record("az.service_request_id", id);
            }
            if status >= 400 {
                span.record("error.type", status);
            }
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            span.record("error.type", kind);
        }
    }
    let resends = call.attempts().saturating_sub(1);
    if resends > 0 {
        span.record("http.request.resend_count", resends);
    }
}

impl Pipeline {
    async fn run(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        call: &Call,
    ) -> reqwest::Result<reqwest::Response> {
        let mut retry_number = 0;
        let mut request = Some(request);
        loop {
            let attempt = retry_number + 1;
            // Built in a plain function, so none of its locals stay in this
            // future while the attempt runs.
            let (result, outcome) = send_once(
                client,
                self.next_attempt(&mut request, retry_number, call),
                call,
                attempt,
            )
            .await;
            // The original is kept exactly when another attempt may follow.
            let can_retry = request.is_some();

            // `can_retry` is false on the last attempt the options allow.
            if !can_retry || !retry::should_retry(outcome, call.idempotency) {
                return result;
            }
            let asked = result
                .as_ref()
                .ok()
                .and_then(|r| retry::retry_after(r.headers(), (self.clock)()));
            if let Some(asked) = asked
                && asked > self.retry.get_max_delay()
            {
                // However absurd the header, the answer is returned now
                // rather than after a wait the options do not allow.
                tracing::debug!(?asked, "the service asks for a longer wait than allowed");
                return result;
            }
            let delay = asked.unwrap_or_else(|| self.retry.backoff(retry_number));
            if let Some(deadline) = call.deadline_or(self.deadline)
                && call.started.elapsed().saturating_add(delay) >= deadline
            {
                tracing::debug!(?delay, "no time left for another attempt");
                return result;
            }
            drop(result);
            tracing::debug!(
                reason = %outcome,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            // Boxed: the timer is only built when a retry waits, and the
            // future of every call stays small.
            Box::pin(tokio::time::sleep(delay)).await;
            retry_number += 1;
        }
    }

    /// The request for attempt `retry_number + 1`, with its headers,
    /// authentication and timeout. `request` keeps the original (for the
    /// next attempt) exactly when another attempt may follow.
    fn next_attempt(
        &self,
        request: &mut Option<reqwest::Request>,
        retry_number: u32,
        call: &Call,
    ) -> reqwest::Request {
        call.attempts.store(retry_number + 1, Ordering::Relaxed);
        // Bodies built by the generated code are in memory, so a copy is
        // always possible; a streaming body would be sent once. The last
        // attempt the options allow sends the original: no copy.
        let original = request.take().expect("kept while retries are possible");
        let last_allowed = retry_number >= self.retry.get_max_retries();
        let copy = if last_allowed {
            None
        } else {
            original.try_clone()
        };
        let mut req = match copy {
            Some(copy) => {
                *request = Some(original);
                copy
            }
            None => original,
        };
        self.prepare(&mut req, call);
        let remaining = call
            .deadline_or(self.deadline)
            .map(|d| d.saturating_sub(call.started.elapsed()));
        let timeout = match (self.per_try_timeout, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        *req.timeout_mut() = timeout;
        req
    }

    /// Headers and authentication for one attempt.
    fn prepare(&self, req: &mut reqwest::Request, call: &Call) {
        let headers = req.headers_mut();
        // Room for the six headers below at once, rather than growing twice.
        headers.reserve(6 + call.headers.len());
        // The call's own first: the pipeline's below replace any of the
        // same name (the call's options refuse those names anyway).
        for (name, value) in &call.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Ok(id) = HeaderValue::from_str(&call.request_id) {
            headers.insert(CLIENT_REQUEST_ID.clone(), id);
        }
        headers.insert(
            RETURN_CLIENT_REQUEST_ID.clone(),
            HeaderValue::from_static("true"),
        );
        headers.insert(reqwest::header::USER_AGENT, self.user_agent.clone());
        match (&call.bearer, &self.auth) {
            (Some(token), _) => {
                if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    value.set_sensitive(true);
                    req.headers_mut()
                        .insert(reqwest::header::AUTHORIZATION, value);
                }
            }
            (None, Auth::Key(key)) => crate::hmac::sign_request(req, key, (self.clock)()),
            // The client fetches the Entra token before the call; without one
            // the request goes unauthenticated and the service answers 401.
            (None, Auth::Token(_)) => {}
        }
    }
}

/// Sends one attempt and reads its answer; classifies the outcome.
async fn send_once(
    client: &reqwest::Client,
    req: reqwest::Request,
    call: &Call,
    attempt: u32,
) -> (reqwest::Result<reqwest::Response>, Outcome) {
    let sent = Instant::now();
    let result = match client.execute(req).await {
        Ok(response) => read_bounded(response).await,
        Err(e) => Err(e),
    };
    let outcome = match &result {
        Ok(r) => Outcome::Status(r.status().as_u16()),
        Err(e) if e.is_connect() => Outcome::ConnectFailed,
        Err(e) if e.is_timeout() => Outcome::TimedOut,
        Err(_) => Outcome::Broken,
    };
    if let Ok(response) = &result {
        call.note_status(response.status().as_u16());
        call.note_correlation(response.headers());
    }
    tracing::debug!(
        attempt,
        ?outcome,
        duration_ms = sent.elapsed().as_millis() as u64,
        "attempt finished"
    );
    (result, outcome)
}

/// Reads the whole body (up to [`MAX_RESPONSE_BODY`]) and rebuilds the
/// response around it, so the generated code decodes from memory. A longer
/// body is not read: the rebuilt response's body fails with
/// [`BodyTooLarge`] when the generated code reads it.
async fn read_bounded(mut response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let mut too_large = response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BODY as u64);
    // A body that arrives in one chunk (the usual case) is kept as is; more
    // chunks are joined.
    let mut body = bytes::Bytes::new();
    let mut joined: Option<bytes::BytesMut> = None;
    if !too_large {
        while let Some(chunk) = response.chunk().await? {
            let read = joined.as_ref().map_or(body.len(), |j| j.len());
            if read + chunk.len() > MAX_RESPONSE_BODY {
                too_large = true;
                body = bytes::Bytes::new();
                joined = None;
                break;
            }
            match &mut joined {
                Some(j) => j.extend_from_slice(&chunk),
                None if body.is_empty() => body = chunk,
                None => {
                    let mut j = bytes::BytesMut::with_capacity(body.len() + chunk.len());
                    j.extend_from_slice(&body);
                    j.extend_from_slice(&chunk);
                    joined = Some(j);
                }
            }
        }
    }
    if let Some(j) = joined {
        body = j.freeze();
    }
    // The URL goes along: without it reqwest parses a placeholder URL for
    // every rebuilt response.
    use reqwest::ResponseBuilderExt as _;
    let status = response.status();
    let body = if too_large {
        let refused = BodyTooLarge {
            status: status.as_u16(),
        };
        reqwest::Body::wrap_stream(futures_util::stream::once(async move {
            Err::<bytes::Bytes, _>(refused)
        }))
    } else {
        reqwest::Body::from(body)
    };
    let mut rebuilt = http::Response::builder()
        .status(status)
        .version(response.version())
        .url(response.url().clone())
        .body(body)
        .expect("status, version and URL come from a valid response");
    *rebuilt.headers_mut() = std::mem::take(response.headers_mut());
    if too_large {
        rebuilt
            .headers_mut()
            .remove(reqwest::header::CONTENT_LENGTH);
    }
    Ok(reqwest::Response::from(rebuilt))
}

/// The `User-Agent`: `[<application id> ]azsdk-rust-communication-identity/<version> (<rustc>; <os>; <arch>)`.
pub(crate) fn user_agent(application_id: Option<&str>) -> String {
    let base = format!(
        "azsdk-rust-communication-identity/{} ({}; {}; {})",
        env!("CARGO_PKG_VERSION"),
        env!("ACS_IDENTITY_RUSTC_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    match application_id {
        Some(app) => format!("{app} {base}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one request on 127.0.0.1 with `body` in chunked encoding,
    /// `chunk` bytes a chunk; returns the URL.
    async fn serve_chunked(body: Vec<u8>, chunk: usize) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x?y=1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                stream.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .unwrap();
            for part in body.chunks(chunk) {
                stream
                    .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                    .await
                    .unwrap();
                stream.write_all(part).await.unwrap();
                stream.write_all(b"\r\n").await.unwrap();
                stream.flush().await.unwrap();
            }
            stream.write_all(b"0\r\n\r\n").await.unwrap();
        });
        url
    }

    fn direct() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    #[tokio::test]
    async fn bodies_in_many_chunks_are_joined_and_the_url_kept() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let url = serve_chunked(body.clone(), 7_000).await;
        let response = direct().get(&url).send().await.unwrap();
        let rebuilt = read_bounded(response).await.unwrap();
        assert_eq!(rebuilt.url().as_str(), url);
        assert_eq!(rebuilt.status(), 200);
        assert_eq!(rebuilt.headers()["content-type"], "application/json");
        assert_eq!(rebuilt.bytes().await.unwrap(), body);
    }

    #[tokio::test]
    async fn chunked_bodies_over_the_limit_fail_when_read() {
        let url = serve_chunked(vec![b' '; MAX_RESPONSE_BODY + 1], 1 << 20).await;
        let response = direct().get(&url).send().await.unwrap();
        let rebuilt = read_bounded(response).await.unwrap();
        assert_eq!(rebuilt.status(), 200);
        let err = rebuilt.bytes().await.unwrap_err();
        let mut source = std::error::Error::source(&err);
        let mut found = None;
        while let Some(s) = source {
            found = found.or_else(|| s.downcast_ref::<BodyTooLarge>().map(|b| b.status));
            source = s.source();
        }
        assert_eq!(found, Some(200), "{err:?}");
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let a = Call::new(Idempotency::Safe, None).request_id.clone();
        let b = Call::new(Idempotency::Safe, None).request_id.clone();
        assert_ne!(a, b);
        for id in [a, b] {
            let uuid = uuid::Uuid::parse_str(&id).unwrap();
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(id, uuid.hyphenated().to_string());
        }
    }

    #[test]
    fn user_agent_names_crate_version_rustc_os_and_arch() {
        let ua = user_agent(None);
        assert!(ua.starts_with(&format!(
            "azsdk-rust-communication-identity/{} (",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(ua.contains(std::env::consts::OS) && ua.contains(std::env::consts::ARCH));
        assert!(!ua.contains("unknown"), "{ua}");
        assert!(user_agent(Some("my-app")).starts_with("my-app azsdk-rust-"));
    }
}
