//! Micro-benchmarks of the client's own per-request work.
//!
//! `cargo bench -p acs-identity --bench micro`
//!
//! - `hmac/sign_100_byte_body`: [`acs_identity::hmac::sign`] over a typical
//!   request (POST, a 100-byte JSON body, an `issueAccessToken` URL).
//! - `connection_string/parse`: a connection string as the portal gives it
//!   (an 88-character key).
//! - `raw_id/<kind>`: [`CommunicationIdentifier::from_raw_id`] for each kind.
//! - `request/get_token_unsent`: a whole `get_token` call of the real client
//!   (arguments checked, body serialized, URL built, call id, signature,
//!   headers, timeout) whose `reqwest::Client` is `https_only`, so reqwest
//!   refuses the `http://` request in `execute`, before it adds its default
//!   headers or touches a connection, and the client maps that refusal to its
//!   error. Nothing is sent and no socket is opened.
//! - `request/bare_reqwest_unsent`: the same request built with bare
//!   reqwest and signed by [`acs_identity::hmac::sign`], refused the same
//!   way: the floor for the line above.
//! - `request/raw_build_sign_decode`: the generated client alone, with a
//!   transport that signs with [`acs_identity::hmac::sign`] and answers with a
//!   canned 200 response, which the generated code decodes: what building,
//!   signing and decoding cost without the pipeline.

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use acs_identity::raw::{self, BoxFuture, Inner, Transport};
use acs_identity::{
    AccessKey, CommunicationIdentifier, CommunicationIdentityClient, CommunicationUserIdentifier,
    ConnectionString, RetryOptions, TokenScope, hmac,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// 64 bytes, base64: the length of a real resource's access key.
const KEY: &str =
    "hpSOguQu9HW2XlPpE/MyJIP6dI9ZqVCl222nqXfZ3QaEuqX/9i8AXgDc/xDlkrLZjCCUPxJ11aDK94fhhtfqGg==";
const USER: &str =
    "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";

fn body_100() -> Vec<u8> {
    let body = br#"{"createTokenWithScopes":["chat","voip"],"expiresInMinutes":1440,"customId":"alice@contoso.example"}"#;
    assert_eq!(body.len(), 100, "a 100-byte body");
    body.to_vec()
}

fn signing(c: &mut Criterion) {
    let key = AccessKey::new(KEY).expect("a base64 key");
    let url = format!(
        "https://my-resource.communication.azure.com/identities/{USER}/:issueAccessToken?api-version=2025-06-30"
    )
    .parse()
    .expect("a URL");
    let body = body_100();
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    c.bench_function("hmac/sign_100_byte_body", |b| {
        b.iter(|| {
            hmac::sign(
                black_box("POST"),
                black_box(&url),
                black_box(&body),
                black_box(date),
                black_box(&key),
            )
        })
    });
}

fn parsing(c: &mut Criterion) {
    let cs = format!("endpoint=https://my-resource.communication.azure.com/;accesskey={KEY}");
    c.bench_function("connection_string/parse", |b| {
        b.iter(|| ConnectionString::parse(black_box(&cs)).expect("valid"))
    });
    let ids = [
        ("communication_user", USER),
        ("phone_number", "4:+14255550121"),
        ("teams_user", "8:orgid:45ab2481-1c1c-4005-be24-0ffb879b1130"),
        (
            "teams_visitor",
            "8:teamsvisitor:45ab2481-1c1c-4005-be24-0ffb879b1130",
        ),
        ("teams_app", "28:gcch:45ab2481-1c1c-4005-be24-0ffb879b1130"),
        (
            "teams_extension_user",
            "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_a8b1c2d3-0000-4000-8000-000000000001_45ab2481-1c1c-4005-be24-0ffb879b1130",
        ),
        ("unknown", "48:45ab2481-1c1c-4005-be24-0ffb879b1130"),
    ];
    let mut group = c.benchmark_group("raw_id");
    for (kind, raw_id) in ids {
        group.bench_function(kind, |b| {
            b.iter(|| CommunicationIdentifier::from_raw_id(black_box(raw_id)))
        });
    }
    group.finish();
}

/// A transport that signs the request and answers from memory.
#[derive(Debug)]
struct Canned {
    key: AccessKey,
}

impl Transport for Canned {
    fn execute<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        mut request: reqwest::Request,
        _operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let signed = hmac::sign(
            request.method().as_str(),
            request.url(),
            body,
            SystemTime::now(),
            &self.key,
        );
        let headers = request.headers_mut();
        for (name, value) in [
            ("x-ms-date", signed.date),
            ("x-ms-content-sha256", signed.content_hash),
            ("authorization", signed.authorization),
        ] {
            headers.insert(name, value.parse().expect("ASCII"));
        }
        black_box(&request);
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json; charset=utf-8")
            .body(
                r#"{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI4OmFjczp4In0.c2lnbmF0dXJl","expiresOn":"2026-01-02T03:04:05Z"}"#,
            )
            .expect("a response");
        Box::pin(async move { Ok(reqwest::Response::from(response)) })
    }
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let user = CommunicationUserIdentifier::new(USER).expect("a user id");

    // The real client; reqwest refuses its `http://` request before sending.
    let refusing = reqwest::Client::builder()
        .https_only(true)
        .build()
        .expect("a reqwest client");
    let client = CommunicationIdentityClient::builder("http://127.0.0.1:9/")
        .access_key(AccessKey::new(KEY).expect("a key"))
        .retry(RetryOptions::none())
        .http_client(refusing)
        .build()
        .expect("a client");
    let first = rt
        .block_on(client.get_token(&user, [TokenScope::Chat]).into_future())
        .expect_err("the request is refused unsent");
    assert!(
        format!("{first:?}").contains("scheme"),
        "refused for its scheme, not sent: {first:?}"
    );
    c.bench_function("request/get_token_unsent", |b| {
        b.iter(|| {
            rt.block_on(
                client
                    .get_token(black_box(&user), [TokenScope::Chat])
                    .into_future(),
            )
        })
    });

    // The same request through bare reqwest (signed by a few lines here),
    // refused the same way: the floor for `request/get_token_unsent`.
    let bare = reqwest::Client::builder()
        .https_only(true)
        .build()
        .expect("a reqwest client");
    let key_bytes = AccessKey::new(KEY).expect("a key");
    let bare_unsent = || {
        let target = format!("/identities/{USER}/:issueAccessToken?api-version=2025-06-30");
        let url: url::Url = format!("http://127.0.0.1:9{target}")
            .parse()
            .expect("a URL");
        let body: &'static [u8] = br#"{"scopes":["chat"]}"#;
        let signed = hmac::sign("POST", &url, body, SystemTime::now(), &key_bytes);
        let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
        let request = bare
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .header("x-ms-client-request-id", id.to_string())
            .header("x-ms-return-client-request-id", "true")
            .header(
                "user-agent",
                "azsdk-rust-communication-identity/0.1.0 (bare; linux; x86_64)",
            )
            .header("x-ms-date", signed.date)
            .header("x-ms-content-sha256", signed.content_hash)
            .header("authorization", signed.authorization)
            .body(body)
            .send();
        rt.block_on(request)
    };
    let refused = bare_unsent().expect_err("refused");
    assert!(format!("{refused:?}").contains("BadScheme"), "{refused:?}");
    c.bench_function("request/bare_reqwest_unsent", |b| b.iter(bare_unsent));

    let raw_client = raw::v2025_06_30::Client::new(
        "https://my-resource.communication.azure.com",
        Inner::with_transport(Arc::new(Canned {
            key: AccessKey::new(KEY).expect("a key"),
        })),
    );
    let body = raw::v2025_06_30::types::CommunicationIdentityAccessTokenRequest {
        scopes: vec![raw::v2025_06_30::types::CommunicationIdentityTokenScope(
            "chat".into(),
        )],
        expires_in_minutes: None,
    };
    rt.block_on(raw_client.issue_access_token(USER, "2025-06-30", &body))
        .expect("the canned answer decodes");
    c.bench_function("request/raw_build_sign_decode", |b| {
        b.iter(|| {
            rt.block_on(raw_client.issue_access_token(black_box(USER), "2025-06-30", &body))
                .expect("the canned answer decodes")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = signing, parsing, requests
}
criterion_main!(benches);
