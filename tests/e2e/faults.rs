//! The fault matrix: the client under faults recovers or fails with a clear
//! error in bounded time, creates no duplicate users and leaks no secret.
//! Each test is bounded and asserts the outcome and the number of calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use acs_identity::{CommunicationIdentityClient, Error, RetryOptions, TokenScope, preview};
use acs_identity_emulator::{Emulator, Faults};
use httpmock::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Short backoff so the matrix runs fast; the policy is the same.
fn retry() -> RetryOptions {
    RetryOptions::default().initial_delay(Duration::from_millis(5))
}

fn client_for(emulator: &Emulator) -> CommunicationIdentityClient {
    CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
        .unwrap()
        .retry(retry())
        .build()
        .unwrap()
}

fn preview_for(emulator: &Emulator) -> preview::CommunicationIdentityClient {
    CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
        .unwrap()
        .retry(retry())
        .build_preview()
        .unwrap()
}

async fn bounded<T>(f: impl std::future::IntoFuture<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f.into_future())
        .await
        .expect("finished in time")
}

async fn identity_count(emulator: &Emulator) -> u64 {
    let stats: serde_json::Value = reqwest::get(format!("{}_emulator/stats", emulator.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["identities"].as_u64().unwrap()
}

fn faults(spec: &str) -> Faults {
    spec.parse().unwrap()
}

const KEY_TEXT: &str = "c2VjcmV0LWtleS1mb3ItdGhlLWZhdWx0LW1hdHJpeA==";

fn assert_no_secret(text: &str) {
    for secret in [KEY_TEXT, "secret-key-for-the-fault-matrix", "Signature="] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn f1_429_with_retry_after_is_waited_then_succeeds() {
    for spec in [
        "create_identity:429/retry-after-ms=300x1",
        "create_identity:429/retry-after=1x1",
    ] {
        let emulator = Emulator::builder()
            .faults(faults(spec))
            .start()
            .await
            .unwrap();
        let client = client_for(&emulator);
        let started = Instant::now();
        bounded(client.create_user())
            .await
            .expect("succeeds after the wait");
        let waited = started.elapsed();
        let asked = if spec.contains("-ms=") {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(1)
        };
        assert!(waited >= asked, "{spec}: waited {waited:?}");
        assert_eq!(emulator.stats().requests, 2, "{spec}");
    }
}

#[tokio::test]
async fn f2_bursts_of_503_then_success_and_the_limit_returns_the_last_error() {
    let emulator = Emulator::builder()
        .faults(faults("503x2"))
        .start()
        .await
        .unwrap();
    let client = client_for(&emulator);
    let user = bounded(client.create_user())
        .await
        .expect("third try succeeds");
    assert_eq!(emulator.stats().requests, 3);

    emulator.set_faults(faults("issue_access_token:503x10"));
    let before = emulator.stats().requests;
    let err = bounded(client.get_token(&user, [TokenScope::Chat]))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(503), Some("ServiceUnavailable")),
        "{err}"
    );
    assert_eq!(
        emulator.stats().requests - before,
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn f3_a_500_on_create_without_custom_id_is_not_retried_with_custom_id_it_is() {
    let emulator = Emulator::builder()
        .faults(faults("create_identity:500x1"))
        .start()
        .await
        .unwrap();
    let client = client_for(&emulator);
    let err = bounded(client.create_user()).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(emulator.stats().requests, 1, "not retried");
    assert_eq!(
        identity_count(&emulator).await,
        0,
        "no user was made, and no second one"
    );

    emulator.set_faults(faults("create_identity:500x1"));
    let preview = preview_for(&emulator);
    let user = bounded(preview.create_user().custom_id("only-once"))
        .await
        .expect("retried");
    assert_eq!(emulator.stats().requests, 3);
    assert_eq!(identity_count(&emulator).await, 1, "exactly one identity");
    assert_eq!(
        bounded(preview.create_user().custom_id("only-once"))
            .await
            .unwrap(),
        user
    );
    assert_eq!(identity_count(&emulator).await, 1);
}

/// A listener that accepts, reads the request, and closes without answering.
async fn closing_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    (
        format!("endpoint=http://{addr}/;accesskey={KEY_TEXT}"),
        accepted,
    )
}

#[tokio::test]
async fn f4_a_connection_closed_before_any_answer_is_retried_then_a_transport_error() {
    let (conn, accepted) = closing_listener().await;
    let client = CommunicationIdentityClient::builder_from_connection_string(&conn)
        .unwrap()
        .retry(retry())
        .build()
        .unwrap();
    let user = acs_identity::CommunicationUserIdentifier::new("8:acs:someone").unwrap();
    let err = bounded(client.revoke_tokens(&user)).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "one try and three retries"
    );
    assert_no_secret(&format!("{err} {err:?}"));

    accepted.store(0, Ordering::SeqCst);
    let err = bounded(client.create_user()).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a create without custom id may have reached the service"
    );
}

#[tokio::test]
async fn f5_slow_answers_are_retried_and_the_deadline_bounds_the_call() {
    let emulator = Emulator::builder().start().await.unwrap();
    let deadline = Duration::from_millis(1200);
    let client =
        CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
            .unwrap()
            .retry(retry())
            .per_try_timeout(Duration::from_millis(400))
            .deadline(deadline)
            .build()
            .unwrap();
    let user = bounded(client.create_user()).await.unwrap();
    emulator.set_faults(faults("latency=3s"));
    let before = emulator.stats().requests;
    let started = Instant::now();
    let err = bounded(client.get_token(&user, [TokenScope::Chat]))
        .await
        .unwrap_err();
    let took = started.elapsed();
    let Error::Timeout { attempts, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        attempts >= 2,
        "the slow try was retried ({attempts} attempts)"
    );
    assert!(
        took <= deadline.mul_f64(1.1),
        "timed out within the deadline + 10% ({took:?})"
    );
    assert_eq!(emulator.stats().requests - before, u64::from(attempts));

    // A create without custom id is not tried again after a timeout: the
    // first try may have made the user.
    let err = bounded(client.create_user()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 1, .. }), "{err:?}");
}

/// A connection string for `server` (which answers as the test sets up).
fn conn_for(server: &MockServer) -> String {
    format!("endpoint={};accesskey={KEY_TEXT}", server.base_url())
}

#[tokio::test]
async fn f6_a_200_that_is_not_the_api_s_json_is_a_decode_error_with_status_and_snippet() {
    let cases = [
        ("application/json", "{\"identity\": 42", "not the JSON"),
        ("application/json", "", "not the JSON"),
        ("text/html", "<html>gateway</html>", "not the JSON"),
        (
            "text/plain",
            r#"{"objectId":"o","tenantId":"t","principalType":"user"}"#,
            "content type",
        ),
    ];
    for (content_type, body, reason) in cases {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.any_request();
                then.status(200)
                    .header("content-type", content_type)
                    .body(body);
            })
            .await;
        let client =
            CommunicationIdentityClient::builder_from_connection_string(&conn_for(&server))
                .unwrap()
                .retry(retry())
                .build()
                .unwrap();
        let err = bounded(client.get_teams_extension_assignment("t", "o"))
            .await
            .unwrap_err();
        let Error::Decode(decode) = &err else {
            panic!("{body:?}: {err:?}")
        };
        assert_eq!(decode.status, Some(200), "{body:?}");
        assert!(
            decode.reason.contains(reason),
            "{body:?}: {}",
            decode.reason
        );
        if reason == "not the JSON" {
            assert_eq!(decode.snippet, body, "the snippet is the body's start");
        }
        assert_eq!(mock.calls_async().await, 1, "not retried");
    }
}

#[tokio::test]
async fn f7_error_bodies_that_are_not_the_service_shape_keep_status_and_text() {
    for (status, body) in [
        (502, "Bad Gateway from the proxy"),
        (404, "{\"message\": \"no error key\"}"),
        (409, ""),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(status)
                    .header("content-type", "text/plain")
                    .body(body);
            })
            .await;
        let client =
            CommunicationIdentityClient::builder_from_connection_string(&conn_for(&server))
                .unwrap()
                .retry(RetryOptions::none())
                .build()
                .unwrap();
        let err = bounded(client.get_teams_extension_assignment("t", "o"))
            .await
            .unwrap_err();
        let Error::Service(service) = &err else {
            panic!("{status}: {err:?}")
        };
        assert_eq!(service.status, status);
        assert_eq!(service.code, None);
        assert_eq!(service.message, body);
    }
}

#[tokio::test]
async fn f8_a_wrong_key_gets_401_once_and_the_message_names_no_secret() {
    let emulator = Emulator::builder().start().await.unwrap();
    let conn = format!("endpoint={};accesskey={KEY_TEXT}", emulator.endpoint());
    let client = CommunicationIdentityClient::builder_from_connection_string(&conn)
        .unwrap()
        .retry(retry())
        .build()
        .unwrap();
    let err = bounded(client.create_user()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("signature was refused"), "{err}");
    assert_eq!(emulator.stats().requests, 1, "not retried");
    assert_no_secret(&format!("{err} {err:?}"));
}

/// Answers every request with headers promising `len` bytes (or chunked),
/// then streams zeros until the peer goes away; counts the bytes written.
async fn huge_answer(chunked: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&written);
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 8192];
        let _ = socket.read(&mut buf).await;
        let len = 64 * 1024 * 1024;
        let head = if chunked {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
        } else {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
            )
        };
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let block = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < len {
            let ok = if chunked {
                let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                chunk.extend_from_slice(&block);
                chunk.extend_from_slice(b"\r\n");
                socket.write_all(&chunk).await.is_ok()
            } else {
                socket.write_all(&block).await.is_ok()
            };
            if !ok {
                return;
            }
            sent += block.len();
            count.fetch_add(block.len(), Ordering::SeqCst);
        }
    });
    (
        format!("endpoint=http://{addr}/;accesskey={KEY_TEXT}"),
        written,
    )
}

#[tokio::test]
async fn f9_a_body_over_16_mib_is_refused_without_reading_it_all() {
    for chunked in [false, true] {
        let (conn, written) = huge_answer(chunked).await;
        let client = CommunicationIdentityClient::builder_from_connection_string(&conn)
            .unwrap()
            .retry(RetryOptions::none())
            .build()
            .unwrap();
        let err = bounded(client.get_teams_extension_assignment("t", "o"))
            .await
            .unwrap_err();
        let Error::Decode(decode) = &err else {
            panic!("chunked={chunked}: {err:?}")
        };
        assert!(decode.reason.contains("larger than"), "{}", decode.reason);
        // The server could write at most what the socket buffers hold past
        // the point where the client stopped reading: far less than 64 MiB.
        let sent = written.load(Ordering::SeqCst);
        assert!(
            sent < 48 * 1024 * 1024,
            "chunked={chunked}: the client read {sent} bytes"
        );
    }
}

#[tokio::test]
async fn f10_x_ms_date_comes_from_the_clock_at_each_attempt() {
    let emulator = Emulator::builder().start().await.unwrap();
    let skewed =
        CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
            .unwrap()
            .retry(retry())
            .clock(|| SystemTime::now() - Duration::from_secs(20 * 60))
            .build()
            .unwrap();
    let err = bounded(skewed.create_user()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("15 minutes"), "{err}");

    // A clock read afresh at each attempt: the first attempt (10 minutes
    // behind, still accepted) is answered 503, the retry is signed with the
    // time read then and goes through. (Faults apply to authenticated
    // requests only, so a first attempt outside the 15 minutes would be a
    // 401, which is not retried.)
    emulator.set_faults(faults("issue_access_token:503x1"));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let client =
        CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
            .unwrap()
            .retry(retry())
            .clock(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                if n == 1 {
                    SystemTime::now() - Duration::from_secs(10 * 60)
                } else {
                    SystemTime::now()
                }
            })
            .build()
            .unwrap();
    let user = bounded(client.create_user()).await.unwrap();
    let before = calls.load(Ordering::SeqCst);
    bounded(client.get_token(&user, [TokenScope::Voip]))
        .await
        .expect("second attempt signed with a fresh date");
    assert!(
        calls.load(Ordering::SeqCst) - before >= 2,
        "the clock is read on each attempt"
    );
}
