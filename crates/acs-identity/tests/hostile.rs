//! Answers no honest service sends: the client reads any header value
//! without panicking, never waits longer than its options allow, and does
//! not send credentials over plain http to a host that is not this machine.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acs_identity::{CommunicationIdentityClient, Error, RetryOptions};
use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// A server on 127.0.0.1 that answers every request with `head` (status
/// line and headers, raw bytes) and an empty body; counts the requests.
struct RawServer {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn raw_server(head: Vec<u8>) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        // Bounded: a test makes a handful of requests.
        for _ in 0..64 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let head = head.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                // Reads requests off this connection until it closes.
                let mut buf = Vec::new();
                loop {
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let length = content_length(&buf[..end]);
                    while buf.len() < end + 4 + length {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + length);
                    counter.fetch_add(1, Ordering::SeqCst);
                    let mut answer = head.clone();
                    answer.extend_from_slice(b"content-length: 0\r\n\r\n");
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    RawServer { url, requests }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

fn answer_503_with(header: &[u8]) -> Vec<u8> {
    let mut head = b"HTTP/1.1 503 Service Unavailable\r\n".to_vec();
    head.extend_from_slice(header);
    head.extend_from_slice(b"\r\n");
    head
}

/// Default retry options except a 1 ms backoff, so a call that ignores the
/// header retries fast and one that honours it would wait for years.
fn client(url: &str) -> CommunicationIdentityClient {
    builder_for(url)
        .retry(RetryOptions::default().initial_delay(Duration::from_millis(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn absurd_retry_headers_neither_panic_nor_stall_the_call() {
    // Each asks for a wait no client should make: the service's answer comes
    // back at once, after one request.
    let long_waits: [&[u8]; 9] = [
        b"x-ms-retry-after-ms: 1e300",
        b"retry-after-ms: 1e300",
        b"retry-after-ms: 1e20",
        b"x-ms-retry-after-ms: inf",
        b"retry-after-ms: 18446744073709551616000",
        b"Retry-After: 99999999",
        b"Retry-After: 999999999999999999999999999999",
        b"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT",
        b"retry-after-ms: 61000",
    ];
    for header in long_waits {
        let server = raw_server(answer_503_with(header)).await;
        let started = Instant::now();
        let err = bounded(client(&server.url).revoke_tokens(&user()))
            .await
            .unwrap_err();
        let shown = String::from_utf8_lossy(header);
        assert_eq!(err.status(), Some(503), "{shown}: {err:?}");
        assert_eq!(server.requests.load(Ordering::SeqCst), 1, "{shown}");
        assert!(started.elapsed() < Duration::from_secs(5), "{shown}");
    }
    // Each is unreadable: ignored, the backoff applies and every retry is made.
    let unreadable: [&[u8]; 8] = [
        b"retry-after-ms: NaN",
        b"x-ms-retry-after-ms: -5",
        b"retry-after-ms: -inf",
        b"Retry-After: -1",
        b"Retry-After: soon",
        b"Retry-After: \xff\xfe",
        b"retry-after-ms: \xd9\xa1\xd9\xa2",
        b"Retry-After: Fri, 31 Dec 99999 23:59:59 GMT",
    ];
    for header in unreadable {
        let server = raw_server(answer_503_with(header)).await;
        let err = bounded(client(&server.url).revoke_tokens(&user()))
            .await
            .unwrap_err();
        let shown = String::from_utf8_lossy(header);
        assert_eq!(err.status(), Some(503), "{shown}: {err:?}");
        assert_eq!(server.requests.load(Ordering::SeqCst), 4, "{shown}");
    }
}

#[tokio::test]
async fn a_requested_wait_within_max_delay_is_made() {
    let server = raw_server(answer_503_with(b"retry-after-ms: 200")).await;
    let client = builder_for(&server.url)
        .retry(
            RetryOptions::none()
                .max_retries(1)
                .max_delay(Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    let started = Instant::now();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(200));

    // The same wait beyond a smaller max_delay: no wait, one request.
    let server = raw_server(answer_503_with(b"retry-after-ms: 200")).await;
    let client = builder_for(&server.url)
        .retry(
            RetryOptions::none()
                .max_retries(1)
                .max_delay(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_ends_the_call_after_the_retries() {
    // The server accepts and never answers: every try ends at its timeout,
    // and the call after the last retry.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut open = Vec::new();
        for _ in 0..16 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    let client = builder_for(&url)
        .per_try_timeout(Duration::from_millis(100))
        .retry(RetryOptions::default().initial_delay(Duration::from_millis(1)))
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 4, .. }), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[test]
fn plain_http_is_refused_for_hosts_other_than_loopback() {
    let key = "accesskey=c2VjcmV0";
    for endpoint in [
        "http://192.0.2.2:9/",
        "http://10.0.0.1/",
        "http://my-resource.communication.azure.com/",
        "http://localhost.attacker.example/",
        "http://127.0.0.1.nip.io/",
        "http://[::ffff:192.0.2.2]/",
    ] {
        let err = CommunicationIdentityClient::from_connection_string(&format!(
            "endpoint={endpoint};{key}"
        ))
        .unwrap_err();
        assert!(
            matches!(err, Error::InsecureEndpoint { .. }),
            "{endpoint}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("allow_insecure_http"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        // The same over the builder, for both clients and both credentials.
        let builder = CommunicationIdentityClient::builder(endpoint).access_key(access_key());
        assert!(matches!(
            builder.clone().build(),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            builder.clone().build_preview(),
            Err(Error::InsecureEndpoint { .. })
        ));
        let bearer =
            CommunicationIdentityClient::builder(endpoint).token_credential(FixedCredential);
        assert!(matches!(
            bearer.build(),
            Err(Error::InsecureEndpoint { .. })
        ));
        // Allowed when asked for.
        assert!(
            builder.allow_insecure_http(true).build().is_ok(),
            "{endpoint}"
        );
    }
    for endpoint in [
        "http://127.0.0.1:8080/",
        "http://127.1.2.3/",
        "http://[::1]:8080/",
        "http://localhost:8080/",
        "http://LOCALHOST/",
        "https://192.0.2.2/",
        "https://my-resource.communication.azure.com/",
    ] {
        CommunicationIdentityClient::from_connection_string(&format!("endpoint={endpoint};{key}"))
            .unwrap_or_else(|e| panic!("{endpoint}: {e}"));
    }
}

#[tokio::test]
async fn a_failed_connection_says_why() {
    // Refused: nothing listens on the port.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = builder_for(&format!("http://127.0.0.1:{port}"))
        .retry(RetryOptions::none())
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not connect"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");

    // TLS: the server answers the handshake with plain text.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        // Holds the connection until the client gives up on it.
        let _ = stream.read(&mut [0u8; 4096]).await;
    });
    let client = builder_for(&https)
        .retry(RetryOptions::none())
        .build()
        .unwrap();
    let err = bounded(client.revoke_tokens(&user())).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(!text.ends_with("client error (Connect)"), "{text}");
    assert!(text.contains("could not connect: "), "{text}");
}
