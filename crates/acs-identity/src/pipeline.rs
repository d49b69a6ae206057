//! What happens to every request between the generated operation and reqwest.
//!
//! The generated operation builds the request and hands it to the raw
//! crate's hook, which calls [`Pipeline::execute`] (the `Transport`). For
//! each attempt, in order:
//!
//! 1. a copy of the request gets the call's `x-ms-client-request-id` (the
//!    same on every attempt), the `User-Agent`, and fresh authentication:
//!    an HMAC signature over this attempt's date, or the bearer token;
//! 2. it is sent with a timeout of the per-try limit or what is left of the
//!    call's deadline, whichever is shorter;
//! 3. the response body is read into memory, refusing more than
//!    [`MAX_RESPONSE_BODY`] bytes;
//! 4. the outcome is classified ([`crate::retry`]); a retryable outcome with
//!    retries and time left waits (`Retry-After`, or backoff) and goes again.
//!
//! Per-call facts (request id, idempotency, bearer token) reach the pipeline
//! through a task-local [`Call`] set by the client method; what the pipeline
//! learns (attempts, last status, an over-long body) goes back the same way,
//! for error reporting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderName, HeaderValue};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::credential::{AccessKey, TokenCache};
use crate::retry::{self, Idempotency, Outcome, RetryOptions};

/// The largest response body read; a larger one is refused unread.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// A source of the current time (for `x-ms-date` and `Retry-After` dates).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How requests are authenticated.
#[derive(Debug)]
pub(crate) enum Auth {
    Key(AccessKey),
    Token(TokenCache),
}

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

/// One logical call, as the pipeline sees it.
#[derive(Debug)]
#[doc(hidden)]
pub struct Call {
    pub(crate) request_id: String,
    pub(crate) idempotency: Idempotency,
    /// A bearer token for this call (Entra auth, or the user's token for the
    /// token-exchange operations); without one, the access key signs.
    pub(crate) bearer: Option<String>,
    pub(crate) started: Instant,
    pub(crate) record: Mutex<Record>,
}

/// What the pipeline learnt about a call.
#[derive(Debug, Default, Clone)]
pub(crate) struct Record {
    pub(crate) attempts: u32,
    pub(crate) last_status: Option<u16>,
    pub(crate) body_too_large: bool,
}

tokio::task_local! {
    pub(crate) static CALL: Arc<Call>;
}

impl Call {
    pub(crate) fn new(idempotency: Idempotency, bearer: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            idempotency,
            bearer,
            started: Instant::now(),
            record: Mutex::new(Record::default()),
        })
    }

    pub(crate) fn record(&self) -> Record {
        self.record.lock().expect("record lock").clone()
    }

    fn update(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().expect("record lock"));
    }
}

static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");
static RETURN_CLIENT_REQUEST_ID: HeaderName =
    HeaderName::from_static("x-ms-return-client-request-id");

impl acs_identity_raw::Transport for Pipeline {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> acs_identity_raw::BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let call = CALL
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Call::new(Idempotency::Safe, None));
        let span = tracing::info_span!("acs_identity.call", operation = operation_id, request_id = %call.request_id);
        Box::pin(self.run(client, request, call).instrument(span))
    }
}

impl Pipeline {
    async fn run(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        call: Arc<Call>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut retry_number = 0;
        let mut request = Some(request);
        loop {
            let attempt = retry_number + 1;
            call.update(|r| {
                r.attempts = attempt;
                r.body_too_large = false;
            });
            // Bodies built by the generated code are in memory, so a copy is
            // always possible; a streaming body would be sent once.
            let original = request.take().expect("kept while retries are possible");
            let (mut req, can_retry) = match original.try_clone() {
                Some(copy) => {
                    request = Some(original);
                    (copy, true)
                }
                None => (original, false),
            };
            self.prepare(&mut req, &call);
            let remaining = self
                .deadline
                .map(|d| d.saturating_sub(call.started.elapsed()));
            let timeout = match (self.per_try_timeout, remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            *req.timeout_mut() = timeout;

            let sent = Instant::now();
            let result = match client.execute(req).await {
                Ok(response) => read_bounded(response, &call).await,
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok(r) => Outcome::Status(r.status().as_u16()),
                Err(e) if e.is_connect() => Outcome::ConnectFailed,
                Err(e) if e.is_timeout() => Outcome::TimedOut,
                Err(_) => Outcome::Broken,
            };
            if let Outcome::Status(status) = outcome {
                call.update(|r| r.last_status = Some(status));
            }
            tracing::debug!(
                attempt,
                ?outcome,
                duration_ms = sent.elapsed().as_millis() as u64,
                "attempt finished"
            );

            if !can_retry
                || retry_number >= self.retry.get_max_retries()
                || !retry::should_retry(outcome, call.idempotency)
            {
                return result;
            }
            let asked = result
                .as_ref()
                .ok()
                .and_then(|r| retry::retry_after(r.headers(), (self.clock)()));
            let delay = asked.unwrap_or_else(|| self.retry.backoff(retry_number));
            if let Some(deadline) = self.deadline
                && call.started.elapsed() + delay >= deadline
            {
                tracing::debug!(?delay, "no time left for another attempt");
                return result;
            }
            tracing::debug!(?delay, "retrying");
            tokio::time::sleep(delay).await;
            retry_number += 1;
        }
    }

    /// Headers and authentication for one attempt.
    fn prepare(&self, req: &mut reqwest::Request, call: &Call) {
        let headers = req.headers_mut();
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

/// Reads the whole body (up to [`MAX_RESPONSE_BODY`]) and rebuilds the
/// response around it, so the generated code decodes from memory.
async fn read_bounded(
    mut response: reqwest::Response,
    call: &Call,
) -> reqwest::Result<reqwest::Response> {
    let too_large = response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BODY as u64);
    let mut body = Vec::new();
    if too_large {
        call.update(|r| r.body_too_large = true);
    } else {
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                call.update(|r| r.body_too_large = true);
                body.clear();
                break;
            }
            body.extend_from_slice(&chunk);
        }
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = std::mem::take(response.headers_mut());
    if too_large || call.record().body_too_large {
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
