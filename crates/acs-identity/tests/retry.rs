//! Which failures are tried again, how often, how long the client waits, and
//! what each try carries; counted on the server side.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acs_identity::{Error, TokenScope};
use common::*;
use futures_util::TryStreamExt as _;
use httpmock::{HttpMockResponse, MockServer};
use serde_json::json;

fn user_path(suffix: &str) -> String {
    format!("/identities/{USER_ID}{suffix}")
}

fn revoke() -> Expect {
    expect("POST", &user_path("/:revokeAccessTokens"), STABLE)
}

#[tokio::test]
async fn two_503_answers_then_200_succeed_on_the_third_try() {
    let server = MockServer::start_async().await;
    let issue = || {
        expect("POST", &user_path("/:issueAccessToken"), STABLE).json(json!({ "scopes": ["chat"] }))
    };
    let unavailable = server
        .mock_async(|when, then| {
            when.is_true(issue().matcher());
            then.status(503).up_to_n_times(2);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.is_true(issue().matcher());
            reply_json(
                then,
                200,
                json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }),
            );
        })
        .await;
    let token = bounded(stable_client(&server).get_token(&user(), [TokenScope::Chat]))
        .await
        .unwrap();
    assert_eq!(token.token(), ACS_TOKEN);
    unavailable.assert_calls_async(2).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn retry_after_ms_of_a_429_is_waited_before_the_next_try() {
    let server = MockServer::start_async().await;
    let throttled = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(429)
                .header("retry-after-ms", "300")
                .up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(204);
        })
        .await;
    // A requested wait is honoured up to `max_delay`.
    let client = builder(&server)
        .retry(fast_retry().max_delay(Duration::from_secs(1)))
        .build()
        .unwrap();
    let started = Instant::now();
    bounded(client.revoke_tokens(&user())).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    throttled.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 401, 403, 404, 409] {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.is_true(revoke().matcher());
                reply_json(then, status, error_body("Refused", "Not this time.", None));
            })
            .await;
        let err = bounded(stable_client(&server).revoke_tokens(&user()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(!err.is_retryable());
        mock.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn create_user_without_custom_id_is_not_retried_after_a_500() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({}))
                    .matcher(),
            );
            reply_json(
                then,
                500,
                error_body("InternalError", "Something broke.", None),
            );
        })
        .await;
    let err = bounded(stable_client(&server).create_user())
        .await
        .unwrap_err();
    let e = service_error(err);
    assert_eq!(e.status, 500);
    assert_eq!(e.code.as_deref(), Some("InternalError"));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn create_user_and_token_without_custom_id_is_not_retried_after_502_or_504() {
    for status in [500, 502, 504] {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.is_true(
                    expect("POST", "/identities", PREVIEW)
                        .json(json!({ "createTokenWithScopes": ["chat"] }))
                        .matcher(),
                );
                then.status(status);
            })
            .await;
        let err = bounded(preview_client(&server).create_user_and_token([TokenScope::Chat]))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        mock.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn create_user_without_custom_id_is_retried_after_answers_that_did_not_act() {
    for status in [408, 429, 503] {
        let server = MockServer::start_async().await;
        let refused = server
            .mock_async(|when, then| {
                when.is_true(
                    expect("POST", "/identities", STABLE)
                        .json(json!({}))
                        .matcher(),
                );
                then.status(status).up_to_n_times(1);
            })
            .await;
        let created = server
            .mock_async(|when, then| {
                when.is_true(
                    expect("POST", "/identities", STABLE)
                        .json(json!({}))
                        .matcher(),
                );
                reply_json(then, 201, json!({ "identity": { "id": USER_ID } }));
            })
            .await;
        let user = bounded(stable_client(&server).create_user()).await.unwrap();
        assert_eq!(user.id(), USER_ID);
        refused.assert_calls_async(1).await;
        created.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn create_user_with_custom_id_is_retried_after_a_500() {
    let server = MockServer::start_async().await;
    let create =
        || expect("POST", "/identities", PREVIEW).json(json!({ "customId": "alice@contoso.com" }));
    let failed = server
        .mock_async(|when, then| {
            when.is_true(create().matcher());
            then.status(500).up_to_n_times(1);
        })
        .await;
    let created = server
        .mock_async(|when, then| {
            when.is_true(create().matcher());
            reply_json(
                then,
                201,
                json!({ "identity": { "id": USER_ID, "customId": "alice@contoso.com" } }),
            );
        })
        .await;
    let user = bounded(
        preview_client(&server)
            .create_user()
            .custom_id("alice@contoso.com"),
    )
    .await
    .unwrap();
    assert_eq!(user.id(), USER_ID);
    failed.assert_calls_async(1).await;
    created.assert_calls_async(1).await;
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_the_last_answer_is_the_error() {
    let server = MockServer::start_async().await;
    let tries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tries);
    let mock = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.respond_with(move |_| {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                HttpMockResponse::builder()
                    .status(503)
                    .header("content-type", "application/json")
                    .body(error_body("ServiceUnavailable", &format!("try {n}"), None).to_string())
                    .build()
            });
        })
        .await;
    let client = builder(&server)
        .retry(fast_retry().max_retries(2))
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    assert!(err.is_retryable());
    let e = service_error(err);
    assert_eq!(e.status, 503);
    assert_eq!(e.message, "try 3");
    mock.assert_calls_async(3).await;
    assert_eq!(tries.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn no_retries_means_one_try() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(503);
        })
        .await;
    let client = builder(&server)
        .retry(acs_identity::RetryOptions::none())
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn every_try_has_the_same_request_id_and_a_signature_of_its_own() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let unavailable = server
        .mock_async(|when, then| {
            when.is_true(revoke().recording(&log));
            then.status(503).up_to_n_times(2);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.is_true(revoke().recording(&log));
            then.status(204);
        })
        .await;
    let client = builder(&server).clock(ticking_clock()).build().unwrap();
    bounded(client.revoke_tokens(&user())).await.unwrap();
    unavailable.assert_calls_async(2).await;
    ok.assert_calls_async(1).await;

    let requests = log.requests();
    assert_eq!(requests.len(), 3);
    let ids: HashSet<_> = log.request_ids().into_iter().collect();
    assert_eq!(ids.len(), 1, "one request id for the whole call: {ids:?}");
    let dates: HashSet<_> = requests
        .iter()
        .map(|r| single_header(r, "x-ms-date").unwrap().to_string())
        .collect();
    assert_eq!(
        dates.len(),
        3,
        "each try is signed at its own time: {dates:?}"
    );
    let signatures: HashSet<_> = requests
        .iter()
        .map(|r| single_header(r, "authorization").unwrap().to_string())
        .collect();
    assert_eq!(signatures.len(), 3);
    for request in &requests {
        verify_signature(request, KEY_TEXT.as_bytes()).unwrap();
    }

    // The next call gets a request id of its own.
    bounded(client.revoke_tokens(&user())).await.unwrap();
    let all_ids: HashSet<_> = log.request_ids().into_iter().collect();
    assert_eq!(all_ids.len(), 2);
}

#[tokio::test]
async fn a_try_slower_than_the_per_try_timeout_is_retried_then_times_out() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let slow = server
        .mock_async(|when, then| {
            when.is_true(revoke().recording(&log));
            then.status(204).delay(Duration::from_secs(3));
        })
        .await;
    let client = builder(&server)
        .retry(fast_retry().max_retries(1))
        .per_try_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    let elapsed = started.elapsed();
    match &err {
        Error::Timeout { attempts, .. } => assert_eq!(*attempts, 2),
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(
        err.request_id(),
        log.request_ids().first().map(String::as_str)
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    slow.assert_calls_async(2).await;
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let server = MockServer::start_async().await;
    let slow = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(204).delay(Duration::from_secs(3));
        })
        .await;
    let client = builder(&server)
        .per_try_timeout(Duration::from_secs(10))
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout { attempts: 1, .. }), "{err:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    slow.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_returns_the_answer_at_once() {
    let server = MockServer::start_async().await;
    let throttled = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            reply_json(then, 429, error_body("TooManyRequests", "Slow down.", None))
                .header("retry-after-ms", "5000");
        })
        .await;
    let client = builder(&server)
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.code(), Some("TooManyRequests"));
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    throttled.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = builder_for(&format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    match &err {
        Error::Transport(t) => assert!(t.is_connect(), "{t:?}"),
        other => panic!("expected Error::Transport, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(err.request_id().is_some());
}

/// A server that accepts connections and closes them at once, counting them.
struct Dropper {
    endpoint: String,
    accepts: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Dropper {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let accepts = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepts);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self {
            endpoint,
            accepts,
            task,
        }
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

impl Drop for Dropper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn transport_error(err: Error) {
    match err {
        Error::Transport(t) => assert!(!t.is_connect(), "{t:?}"),
        other => panic!("expected Error::Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_safe_operations() {
    let dropper = Dropper::start().await;
    let stable = builder_for(&dropper.endpoint)
        .retry(fast_retry().max_retries(2))
        .build()
        .unwrap();
    transport_error(bounded(stable.revoke_tokens(&user())).await.unwrap_err());
    assert_eq!(dropper.accepts(), 3);
    transport_error(
        bounded(stable.get_token(&user(), [TokenScope::Chat]))
            .await
            .unwrap_err(),
    );
    assert_eq!(dropper.accepts(), 6);
}

#[tokio::test]
async fn a_dropped_connection_is_not_retried_for_create_user_without_custom_id() {
    let dropper = Dropper::start().await;
    let client = builder_for(&dropper.endpoint)
        .retry(fast_retry().max_retries(2))
        .build_preview()
        .unwrap();
    transport_error(bounded(client.create_user()).await.unwrap_err());
    assert_eq!(dropper.accepts(), 1);
    transport_error(
        bounded(client.create_user_and_token([TokenScope::Chat]))
            .await
            .unwrap_err(),
    );
    assert_eq!(dropper.accepts(), 2);
    transport_error(
        bounded(client.create_user().custom_id("alice@contoso.com"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        dropper.accepts(),
        5,
        "with a custom id the create is safe to repeat"
    );
}

#[tokio::test]
async fn a_later_list_page_is_retried_after_a_503() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.is_true(expect("GET", "/access/entra/assignments", PREVIEW).matcher());
            reply_json(
                then,
                200,
                json!({
                    "value": [{ "objectId": "o1", "tenantId": TENANT_ID, "principalType": "user", "clientIds": [] }],
                    "nextLink": "/access/entra/assignments?skipToken=2",
                }),
            );
        })
        .await;
    let page_2 = || expect("GET", "/access/entra/assignments", PREVIEW).query("skipToken", "2");
    let unavailable = server
        .mock_async(|when, then| {
            when.is_true(page_2().matcher());
            then.status(503).up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.is_true(page_2().matcher());
            reply_json(
                then,
                200,
                json!({ "value": [{ "objectId": "o2", "tenantId": TENANT_ID, "principalType": "group", "clientIds": [] }] }),
            );
        })
        .await;
    let client = preview_client(&server);
    let all: Vec<_> = bounded(client.list_entra_assignments().try_collect())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    unavailable.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_token_exchange_is_retried_with_the_same_bearer() {
    let server = MockServer::start_async().await;
    let exchange = || {
        expect("POST", "/access/entra/:exchangeAccessToken", PREVIEW)
            .json(json!({}))
            .bearer(ENTRA_USER_TOKEN)
    };
    let unavailable = server
        .mock_async(|when, then| {
            when.is_true(exchange().matcher());
            then.status(503).up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.is_true(exchange().matcher());
            reply_json(then, 200, user_and_token_body(USER_ID));
        })
        .await;
    let exchanged = bounded(preview_client(&server).exchange_entra_token(ENTRA_USER_TOKEN))
        .await
        .unwrap();
    assert_eq!(exchanged.access_token.token(), ACS_TOKEN);
    unavailable.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
}

#[tokio::test]
async fn an_over_long_body_on_an_earlier_try_does_not_taint_the_last_answer() {
    let server = MockServer::start_async().await;
    let oversized = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(503)
                .header("content-type", "text/plain")
                .body(vec![b'x'; acs_identity::MAX_RESPONSE_BODY + 1])
                .up_to_n_times(1);
        })
        .await;
    let not_found = server
        .mock_async(|when, then| {
            when.is_true(revoke().matcher());
            then.status(404);
        })
        .await;
    let err = bounded(stable_client(&server).revoke_tokens(&user()))
        .await
        .unwrap_err();
    oversized.assert_calls_async(1).await;
    not_found.assert_calls_async(1).await;
    assert_eq!(service_error(err).status, 404);
}
