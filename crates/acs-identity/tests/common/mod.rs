//! Shared helpers of the wire tests: clients pointed at an httpmock server,
//! request expectations checked inside `is_true` matchers, and an HMAC
//! verifier written from the scheme's description (it does not call
//! `acs_identity::hmac`).

#![allow(dead_code)]

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use acs_identity::{AccessKey, ClientBuilder, CommunicationIdentityClient, RetryOptions, preview};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use httpmock::{HttpMockRequest, MockServer, Then};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The decoded access key of every test client.
pub const KEY_TEXT: &str = "wire-test-access-key:7c1e0b5a92d34f68";

/// The stable api-version sent by default.
pub const STABLE: &str = "2025-06-30";
/// The preview api-version sent by default.
pub const PREVIEW: &str = "2025-03-02-preview";

/// A user id as the service hands them out.
pub const USER_ID: &str =
    "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
pub const TENANT_ID: &str = "c70d068c-2f32-484d-9455-73070cd5aadd";
pub const OBJECT_ID: &str = "b27b64b9-39d2-44a3-869d-67700b74e805";
pub const OTHER_OBJECT_ID: &str = "fd63f3cb-3731-4d15-8e47-9d062aba58c5";
pub const REMOVED_OBJECT_ID: &str = "eaf4bdca-9343-492b-a5e2-9310fbe393b8";
pub const CLIENT_ID: &str = "617d08b5-f35b-4270-87d6-56833d2dee1b";

/// An ACS access token as the mock service issues it: long enough to look
/// like a JWT.
pub const ACS_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEwNiIsInR5cCI6IkpXVCJ9.eyJza3lwZWlkIjoiYWNzOndpcmUtdGVzdCJ9.c2lnbmF0dXJlLW9mLXRoZS1hY3MtdG9rZW4tZm9yLXdpcmUtdGVzdHM";
/// The Entra token of a Teams user or an Entra user, sent by the exchanges.
pub const ENTRA_USER_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJlbnRyYS11c2VyIiwiYXBwaWQiOiJ0ZXN0In0.ZW50cmEtdXNlci10b2tlbi1zaWduYXR1cmUtZm9yLXdpcmUtdGVzdHM";
pub const EXPIRES_ON: &str = "2025-10-10T21:39:39.3244584+00:00";

/// The access key as base64, as it appears in a connection string.
pub fn key_base64() -> String {
    STANDARD.encode(KEY_TEXT)
}

pub fn access_key() -> AccessKey {
    AccessKey::new(&key_base64()).expect("the test key is base64")
}

/// Retries that wait a millisecond or so.
pub fn fast_retry() -> RetryOptions {
    RetryOptions::default()
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

/// A builder for a client of `server`, signed with the test key, with fast retries.
pub fn builder(server: &MockServer) -> ClientBuilder {
    builder_for(&server.base_url())
}

pub fn builder_for(endpoint: &str) -> ClientBuilder {
    CommunicationIdentityClient::builder(endpoint)
        .access_key(access_key())
        .retry(fast_retry())
        .per_try_timeout(Duration::from_secs(5))
}

pub fn stable_client(server: &MockServer) -> CommunicationIdentityClient {
    builder(server).build().expect("a valid stable client")
}

pub fn preview_client(server: &MockServer) -> preview::CommunicationIdentityClient {
    builder(server)
        .build_preview()
        .expect("a valid preview client")
}

pub fn user() -> acs_identity::CommunicationUserIdentifier {
    acs_identity::CommunicationUserIdentifier::new(USER_ID).expect("a valid user id")
}

/// A clock that moves 7 seconds on each reading, so each signature has its
/// own `x-ms-date`.
pub fn ticking_clock() -> impl Fn() -> SystemTime + Send + Sync + 'static {
    let readings = AtomicU64::new(0);
    move || {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(1_750_000_000 + 7 * readings.fetch_add(1, Ordering::SeqCst))
    }
}

/// Runs `f`, failing the test when it takes more than 20 seconds.
pub async fn bounded<F: IntoFuture>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the call did not finish within 20 s")
}

/// `then` answers `status` with `body` as `application/json`.
pub fn reply_json(then: Then, status: u16, body: Value) -> Then {
    then.status(status)
        .header("content-type", "application/json")
        .json_body(body)
}

/// The service's error body.
pub fn error_body(code: &str, message: &str, target: Option<&str>) -> Value {
    let mut error = serde_json::json!({ "code": code, "message": message });
    if let Some(target) = target {
        error["target"] = Value::from(target);
    }
    serde_json::json!({ "error": error })
}

/// The body of a create or exchange answer.
pub fn user_and_token_body(id: &str) -> Value {
    serde_json::json!({
        "identity": { "id": id },
        "accessToken": { "token": ACS_TOKEN, "expiresOn": EXPIRES_ON },
    })
}

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

/// Every value of header `name` (case-insensitive) as received.
pub fn header_values<'a>(req: &'a HttpMockRequest, name: &str) -> Vec<&'a str> {
    req.headers_vec()
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The one value of header `name`, or why there is not exactly one.
pub fn single_header<'a>(req: &'a HttpMockRequest, name: &str) -> Result<&'a str, String> {
    match header_values(req, name).as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no `{name}` header")),
        many => Err(format!("{} `{name}` headers", many.len())),
    }
}

/// The request target as received: path, then `?query` when there is one.
pub fn path_and_query(req: &HttpMockRequest) -> String {
    let uri = req.uri();
    match uri.path_and_query() {
        Some(pq) => pq.as_str().to_string(),
        None => uri.path().to_string(),
    }
}

// ---------------------------------------------------------------------------
// HMAC verifier
// ---------------------------------------------------------------------------

/// The `Authorization` value the service expects for these request parts:
///
/// ```text
/// string_to_sign = METHOD "\n" path_and_query "\n" x-ms-date ";" host ";" base64(sha256(body))
/// Authorization  = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" base64(hmac_sha256(key, string_to_sign))
/// ```
pub fn expected_authorization(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    date: &str,
    host: &str,
    body: &[u8],
) -> String {
    let body_hash = STANDARD.encode(Sha256::digest(body));
    let string_to_sign = [
        method.to_ascii_uppercase().as_str(),
        "\n",
        path_and_query,
        "\n",
        date,
        ";",
        host,
        ";",
        body_hash.as_str(),
    ]
    .concat();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}")
}

/// Checks the request's signature exactly as the service would: from the
/// method, the request target, `x-ms-date`, the `Host` header and the body
/// as received.
pub fn verify_signature(req: &HttpMockRequest, key: &[u8]) -> Result<(), String> {
    let date = single_header(req, "x-ms-date")?;
    let parsed = httpdate::parse_http_date(date).map_err(|e| format!("x-ms-date {date:?}: {e}"))?;
    if httpdate::fmt_http_date(parsed) != date {
        return Err(format!("x-ms-date {date:?} is not an IMF-fixdate"));
    }
    let host = single_header(req, "host")?;
    let body = req.body_ref();
    let body_hash = STANDARD.encode(Sha256::digest(body));
    let sent_hash = single_header(req, "x-ms-content-sha256")?;
    if sent_hash != body_hash {
        return Err(format!(
            "x-ms-content-sha256 {sent_hash} is not the hash of the body received ({body_hash})"
        ));
    }
    let want = expected_authorization(
        key,
        req.method_str(),
        &path_and_query(req),
        date,
        host,
        body,
    );
    let got = single_header(req, "authorization")?;
    if got != want {
        return Err(format!(
            "the signature does not verify for {} {} (host {host}, date {date})",
            req.method_str(),
            path_and_query(req)
        ));
    }
    Ok(())
}

/// An `is_true` matcher: the request is signed with the test key.
pub fn signed_with_test_key() -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
    |req| verify_signature(req, KEY_TEXT.as_bytes()).is_ok()
}

// ---------------------------------------------------------------------------
// Request expectations
// ---------------------------------------------------------------------------

/// How the request must be authenticated.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Signed with this key.
    Hmac(Vec<u8>),
    /// `Authorization: Bearer <token>`, and no signature headers.
    Bearer(String),
}

/// Everything a request of one operation must carry.
#[derive(Clone, Debug)]
pub struct Expect {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Option<Value>,
    user_agent_prefix: String,
}

/// A request of `method` to `path` (percent-decoded) with query
/// `api-version=<api_version>` only, signed with the test key, without a
/// body.
pub fn expect(method: &'static str, path: &str, api_version: &str) -> Expect {
    Expect {
        method,
        path: path.to_string(),
        query: vec![("api-version".into(), api_version.into())],
        auth: Auth::Hmac(KEY_TEXT.as_bytes().to_vec()),
        content_type: None,
        body: None,
        user_agent_prefix: "azsdk-rust-communication-identity/".into(),
    }
}

impl Expect {
    /// The body must be this JSON, sent as `application/json`.
    pub fn json(mut self, body: Value) -> Self {
        self.content_type = Some("application/json");
        self.body = Some(body);
        self
    }

    /// The body must be this JSON, sent as `application/merge-patch+json`.
    pub fn merge_patch(mut self, body: Value) -> Self {
        self.content_type = Some("application/merge-patch+json");
        self.body = Some(body);
        self
    }

    /// Authenticated with this bearer token instead of a signature.
    pub fn bearer(mut self, token: &str) -> Self {
        self.auth = Auth::Bearer(token.to_string());
        self
    }

    /// Signed with another key.
    pub fn key(mut self, key: &[u8]) -> Self {
        self.auth = Auth::Hmac(key.to_vec());
        self
    }

    /// One more query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// The `User-Agent` must start with this.
    pub fn user_agent_prefix(mut self, prefix: &str) -> Self {
        self.user_agent_prefix = prefix.into();
        self
    }

    /// Why `req` is not the expected request, if it is not.
    pub fn check(&self, req: &HttpMockRequest) -> Result<(), String> {
        if req.method_str() != self.method {
            return Err(format!(
                "method {} instead of {}",
                req.method_str(),
                self.method
            ));
        }
        let uri = req.uri();
        let path = percent_decode(uri.path());
        if path != self.path {
            return Err(format!("path {path} instead of {}", self.path));
        }
        let mut query = req.query_params();
        query.sort();
        let mut want = self.query.clone();
        want.sort();
        if query != want {
            return Err(format!("query {query:?} instead of {want:?}"));
        }
        if !header_values(req, "api-version").is_empty() {
            return Err("an `api-version` header was sent".into());
        }
        let request_id = single_header(req, "x-ms-client-request-id")?;
        if !looks_like_uuid(request_id) {
            return Err(format!(
                "x-ms-client-request-id {request_id:?} is not a UUID"
            ));
        }
        if single_header(req, "x-ms-return-client-request-id")? != "true" {
            return Err("x-ms-return-client-request-id is not `true`".into());
        }
        let user_agent = single_header(req, "user-agent")?;
        if !user_agent.starts_with(&self.user_agent_prefix) {
            return Err(format!(
                "User-Agent {user_agent:?} does not start with {:?}",
                self.user_agent_prefix
            ));
        }
        let content_types = header_values(req, "content-type");
        match (self.content_type, content_types.as_slice()) {
            (Some(want), [got]) if *got == want => {}
            (None, []) => {}
            (want, got) => return Err(format!("content type {got:?} instead of {want:?}")),
        }
        match &self.body {
            Some(want) => {
                let got: Value = serde_json::from_slice(req.body_ref())
                    .map_err(|e| format!("the body is not JSON: {e}"))?;
                if &got != want {
                    return Err(format!("body {got} instead of {want}"));
                }
            }
            None if req.body_ref().is_empty() => {}
            None => return Err(format!("an unexpected body: {}", req.body_string())),
        }
        match &self.auth {
            Auth::Hmac(key) => verify_signature(req, key)?,
            Auth::Bearer(token) => {
                let got = single_header(req, "authorization")?;
                if got != format!("Bearer {token}") {
                    return Err("the Authorization header is not the expected bearer token".into());
                }
                if !header_values(req, "x-ms-content-sha256").is_empty() {
                    return Err("a bearer request also carries signature headers".into());
                }
            }
        }
        Ok(())
    }

    /// An `is_true` matcher for this expectation. Set `WIRE_TEST_DEBUG=1` to
    /// see why requests do not match.
    pub fn matcher(self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        move |req| match self.check(req) {
            Ok(()) => true,
            Err(why) => {
                if std::env::var_os("WIRE_TEST_DEBUG").is_some() {
                    eprintln!("mock mismatch: {why}");
                }
                false
            }
        }
    }

    /// As [`matcher`](Self::matcher), and keeps each matching request in `log`.
    pub fn recording(
        self,
        log: &Recorded,
    ) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let log = log.clone();
        let matches = self.matcher();
        move |req| {
            let ok = matches(req);
            if ok {
                log.0.lock().expect("log lock").push(req.clone());
            }
            ok
        }
    }
}

/// Requests a mock received, in order.
#[derive(Clone, Default)]
pub struct Recorded(Arc<Mutex<Vec<HttpMockRequest>>>);

impl Recorded {
    pub fn requests(&self) -> Vec<HttpMockRequest> {
        self.0.lock().expect("log lock").clone()
    }

    /// An `is_true` matcher that keeps every request and matches it.
    pub fn record_all(&self) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync + 'static {
        let log = self.clone();
        move |req| {
            log.0.lock().expect("log lock").push(req.clone());
            true
        }
    }

    /// The `x-ms-client-request-id` of each request.
    pub fn request_ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                single_header(r, "x-ms-client-request-id")
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Decodes `%XX` escapes (and nothing else).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("the decoded path is UTF-8")
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The service error inside `err`, or a panic naming what it was instead.
pub fn service_error(err: acs_identity::Error) -> acs_identity::ServiceError {
    match err {
        acs_identity::Error::Service(e) => *e,
        other => panic!("expected Error::Service, got {other:?}"),
    }
}

/// The decode error inside `err`, or a panic naming what it was instead.
pub fn decode_error(err: acs_identity::Error) -> acs_identity::DecodeError {
    match err {
        acs_identity::Error::Decode(e) => *e,
        other => panic!("expected Error::Decode, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Entra ID credential
// ---------------------------------------------------------------------------

/// The Entra token a token-credential client authenticates with.
pub const SERVICE_ENTRA_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvbW11bmljYXRpb24uYXp1cmUuY29tIn0.c2VydmljZS1wcmluY2lwYWwtdG9rZW4tc2lnbmF0dXJl";

/// A credential that always hands out [`SERVICE_ENTRA_TOKEN`], valid for an hour.
pub struct FixedCredential;

impl std::fmt::Debug for FixedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedCredential")
    }
}

impl acs_identity::TokenCredential for FixedCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
    ) -> acs_identity::BoxFuture<'a, Result<acs_identity::EntraToken, acs_identity::CredentialError>>
    {
        assert_eq!(scopes, [acs_identity::ENTRA_SCOPE]);
        Box::pin(async {
            Ok(acs_identity::EntraToken::new(
                SERVICE_ENTRA_TOKEN,
                SystemTime::now() + Duration::from_secs(3600),
            ))
        })
    }
}

/// A builder for a client of `server` authenticated by [`FixedCredential`].
pub fn token_credential_builder(server: &MockServer) -> ClientBuilder {
    CommunicationIdentityClient::builder(&server.base_url())
        .token_credential(FixedCredential)
        .retry(fast_retry())
        .per_try_timeout(Duration::from_secs(5))
}
