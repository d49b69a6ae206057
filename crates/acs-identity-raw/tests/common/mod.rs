//! Helpers shared by the per-api-version test files (`v2025_06_30.rs`,
//! `v2025_03_02_preview.rs`). Each file uses a subset, hence the allow.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use acs_identity_raw::{BoxFuture, Inner, Transport};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use httpmock::{Method, When};
use serde_json::{Value, json};

/// Ids and values from Microsoft's published examples for the Identity API
/// (`examples/` of 2025-03-02-preview and 2026-09-23; 2025-06-30 has the same
/// shapes).
pub mod example {
    /// A Communication Services user id, as the service hands it out.
    pub const USER_ID: &str =
        "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
    /// `/identities/{USER_ID}` exactly as it appears on the wire: the `:`s of
    /// the id are not percent-encoded (progenitor's `encode_path` leaves them,
    /// as RFC 3986 allows in a path segment).
    pub const USER_PATH: &str = "/identities/8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
    pub const TENANT_ID: &str = "c70d068c-2f32-484d-9455-73070cd5aadd";
    pub const OBJECT_ID: &str = "b27b64b9-39d2-44a3-869d-67700b74e805";
    pub const SECOND_OBJECT_ID: &str = "fd63f3cb-3731-4d15-8e47-9d062aba58c5";
    /// The object id the preview's UpdateEntraAssignments example removes
    /// (mixed case as published).
    pub const REMOVED_OBJECT_ID: &str = "eaf4bdca-9343-492B-a5e2-9310fbe393b8";
    pub const CLIENT_ID: &str = "617d08b5-f35b-4270-87d6-56833d2dee1b";
    /// `/access/teamsExtension/tenants/{TENANT_ID}/assignments/{OBJECT_ID}`.
    pub const TEAMS_EXTENSION_ASSIGNMENT_PATH: &str = "/access/teamsExtension/tenants/c70d068c-2f32-484d-9455-73070cd5aadd/assignments/b27b64b9-39d2-44a3-869d-67700b74e805";
    /// User id returned by the Teams Phone (teamsExtension) token exchange.
    pub const TEAMS_EXTENSION_USER_ID: &str = "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_c70d068c-2f32-484d-9455-73070cd5aadd_b27b64b9-39d2-44a3-869d-67700b74e805";
    /// Teams user token exchange: request and response.
    pub const TEAMS_USER_AAD_TOKEN: &str = "AzureActiveDirectoryAccessTokenOfATeamsUser";
    pub const TEAMS_USER_APP_ID: &str = "2c3e1e83-8fd7-4615-ad2b-b8c1229845ac";
    pub const TEAMS_USER_USER_ID: &str = "32c0a5db-05ec-78ea-51ab-3f06b329397e";
    pub const TEAMS_USER_ACS_TOKEN: &str = "CommunicationIdentityAccessToken";
    /// Every scope the examples request.
    pub const ALL_SCOPES: [&str; 5] = [
        "chat",
        "voip",
        "chat.join",
        "chat.join.limited",
        "voip.join",
    ];
}

/// `y-m-d h:mi:s.nanos` UTC, built without parsing, to compare decoded
/// timestamps against.
pub fn utc(ymd: (i32, u32, u32), hms: (u32, u32, u32), nanos: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2)
        .and_then(|date| date.and_hms_nano_opt(hms.0, hms.1, hms.2, nanos))
        .expect("valid date and time")
        .and_utc()
}

/// What every request must look like: `method` on exactly `path`, with
/// `api-version=<api_version>` as the one and only query parameter, and no
/// `api-version` header (the hooks remove the one progenitor adds).
pub fn call(when: When, method: Method, path: &str, api_version: &str) -> When {
    when.method(method)
        .path(path)
        .query_param("api-version", api_version)
        .query_param_count("^.*$", "^.*$", 1)
        .header_missing("api-version")
}

/// [`call`], plus a single `Content-Type: application/json` header and
/// exactly `body` as the JSON body.
pub fn json_call(when: When, method: Method, path: &str, api_version: &str, body: Value) -> When {
    call(when, method, path, api_version)
        .header("content-type", "application/json")
        .header_count("(?i)^content-type$", "^.*$", 1)
        .json_body(body)
}

/// [`call`], plus no `Content-Type` header and an empty body (httpmock
/// refuses a body expectation on GET, so there only the header is checked).
pub fn bodiless_call(when: When, method: Method, path: &str, api_version: &str) -> When {
    let can_have_body = !matches!(method, Method::GET | Method::HEAD);
    let when = call(when, method, path, api_version).header_missing("content-type");
    if can_have_body { when.body("") } else { when }
}

/// A `CommunicationErrorResponse` body.
pub fn error_body(code: &str, message: &str, target: &str) -> Value {
    json!({ "error": { "code": code, "message": message, "target": target } })
}

/// Concatenates a byte stream (the body of a `ResponseValue<ByteStream>`).
pub async fn collect_stream(stream: progenitor_client::ByteStream) -> Vec<u8> {
    let mut stream = stream.into_inner();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.expect("body chunk"));
    }
    body
}

/// One request as a [`Transport`] saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub operation_id: &'static str,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Every `Content-Type` value on the request, in order.
    pub content_types: Vec<String>,
    pub api_version_header: bool,
}

/// A [`Transport`] that writes down each request, then sends it unchanged.
#[derive(Debug, Default)]
pub struct RecordingTransport {
    seen: Mutex<Vec<Seen>>,
}

impl RecordingTransport {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The client value to put this transport into.
    pub fn inner(self: &Arc<Self>) -> Inner {
        Inner::with_transport(Arc::clone(self) as Arc<dyn Transport>)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Transport for RecordingTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let seen = Seen {
            operation_id,
            method: request.method().as_str().to_owned(),
            path: request.url().path().to_owned(),
            query: request.url().query().map(str::to_owned),
            content_types: request
                .headers()
                .get_all(reqwest::header::CONTENT_TYPE)
                .iter()
                .map(|value| value.to_str().expect("ASCII content type").to_owned())
                .collect(),
            api_version_header: request.headers().contains_key("api-version"),
        };
        self.seen.lock().expect("lock").push(seen);
        Box::pin(client.execute(request))
    }
}

/// Checks what a [`RecordingTransport`] saw against `expected`, one
/// `(operation_id, method, path, content type)` per request, in order; every
/// request must also carry `api-version=<api_version>` as its query and no
/// `api-version` header.
pub fn assert_seen(
    seen: &[Seen],
    api_version: &str,
    expected: &[(&str, &str, &str, Option<&str>)],
) {
    let query = format!("api-version={api_version}");
    let actual: Vec<(&str, &str, &str, Option<&str>)> = seen
        .iter()
        .map(|s| {
            assert_eq!(
                s.query.as_deref(),
                Some(query.as_str()),
                "query of {}",
                s.operation_id
            );
            assert!(
                !s.api_version_header,
                "api-version header on {}",
                s.operation_id
            );
            assert!(
                s.content_types.len() <= 1,
                "several content types on {}: {:?}",
                s.operation_id,
                s.content_types
            );
            (
                s.operation_id,
                s.method.as_str(),
                s.path.as_str(),
                s.content_types.first().map(String::as_str),
            )
        })
        .collect();
    assert_eq!(actual, expected);
}
