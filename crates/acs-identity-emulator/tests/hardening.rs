//! Issue 12's emulator defects, each reproduced over raw TCP or raw reqwest:
//! forged bearer tokens, foreign Host headers, idle and slow connections,
//! fault specs that overflow, faults consumed before authentication, two
//! emulators on one data file, and a corrupt data file.

mod common;

use std::time::{Duration, Instant};

use acs_identity_emulator::Emulator;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::{
    KEY, PREVIEW, Req, STABLE, assert_error, body_of, create, emulator, q, raw, read_until_closed,
    status_of,
};

const LIMIT: Duration = Duration::from_secs(10);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A JWT with this header and these claims, signed (HS256) with `secret`, or
/// with the signature `sig` as given when `secret` is `None`.
fn jwt(header: Value, claims: Value, secret: Option<&[u8]>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    match secret {
        Some(secret) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        }
        None => format!("{input}."),
    }
}

async fn identities(e: &Emulator) -> u64 {
    let stats: Value = reqwest::get(format!("{}_emulator/stats", e.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["identities"].as_u64().unwrap()
}

async fn with_bearer(e: &Emulator, method: Method, path: String, token: &str) -> (u16, Value) {
    let mut r = Req::new(method, path);
    r.bearer = Some(token.to_string());
    r.send(e).await
}

// Item 7: management bearer tokens are verified.

#[tokio::test]
async fn forged_bearer_tokens_do_not_replace_the_access_key() {
    let e = emulator().await;
    let (_, user) = create(&e, json!({}), STABLE).await;
    let id = user["identity"]["id"].as_str().unwrap().to_string();
    let before = identities(&e).await;
    let claims = |aud: &str| json!({"aud": aud, "exp": now() + 3600, "nbf": now() - 60});
    let forged = [
        (
            "alg none",
            jwt(
                json!({"alg": "none", "typ": "JWT"}),
                claims("https://communication.azure.com"),
                None,
            ),
        ),
        (
            "alg none, other case",
            jwt(
                json!({"alg": "None"}),
                claims("https://communication.azure.com"),
                None,
            ),
        ),
        (
            "signed with a key the emulator does not trust",
            jwt(
                json!({"alg": "HS256", "typ": "JWT"}),
                claims("https://communication.azure.com"),
                Some(b"not the emulator's secret"),
            ),
        ),
        (
            "signature stripped",
            jwt(
                json!({"alg": "HS256", "typ": "JWT"}),
                claims("https://communication.azure.com"),
                None,
            ),
        ),
    ];
    for (what, token) in &forged {
        let writes = [
            (Method::POST, q("/identities", STABLE)),
            (
                Method::POST,
                q(&format!("/identities/{id}/:revokeAccessTokens"), STABLE),
            ),
            (Method::DELETE, q(&format!("/identities/{id}"), STABLE)),
        ];
        for (method, path) in writes {
            let answer = with_bearer(&e, method.clone(), path.clone(), token).await;
            assert_error(&answer, 401, "InvalidAccessToken");
            assert!(
                !answer.1.to_string().contains(token.as_str()),
                "{what}: the token is not echoed"
            );
            let _ = (what, method, path);
        }
        let mut put = Req::new(Method::PUT, q("/access/entra/assignments/o1", PREVIEW))
            .json(json!({"tenantId": "t", "principalType": "user", "clientIds": ["c"]}));
        put.bearer = Some(token.clone());
        assert_error(&put.send(&e).await, 401, "InvalidAccessToken");
    }
    assert_eq!(identities(&e).await, before, "no forged write went through");
    assert_eq!(
        Req::new(Method::GET, q("/access/entra/assignments/o1", PREVIEW))
            .send(&e)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn bearer_audiences_are_compared_exactly_and_expiry_is_checked() {
    let e = emulator().await;
    let path = || q("/identities", STABLE);
    for aud in [
        "https://evil-communication.azure.com.attacker.example",
        "https://communication.azure.com.attacker.example",
        "https://communication.azure.com//.default",
        "https://communication.azure.com/clients",
        "communication.azure.com",
        "",
    ] {
        let token = e.entra_token(json!({ "aud": aud }));
        assert_error(
            &with_bearer(&e, Method::POST, path(), &token).await,
            401,
            "InvalidAccessToken",
        );
    }
    for aud in [
        json!("https://communication.azure.com"),
        json!("https://communication.azure.com/"),
        json!([
            "https://graph.microsoft.com",
            "https://communication.azure.com"
        ]),
    ] {
        let token = e.entra_token(json!({ "aud": aud }));
        assert_eq!(
            with_bearer(&e, Method::POST, path(), &token).await.0,
            201,
            "{aud}"
        );
    }
    let expired = e.entra_token(json!({"exp": now() - 5}));
    let not_yet = e.entra_token(json!({"nbf": now() + 600}));
    let no_exp = e.entra_token(json!({"exp": null}));
    for token in [expired, not_yet, no_exp] {
        assert_error(
            &with_bearer(&e, Method::POST, path(), &token).await,
            401,
            "InvalidAccessToken",
        );
    }
    assert_eq!(
        with_bearer(&e, Method::POST, path(), &e.management_token())
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn the_entra_token_endpoint_mints_tokens_this_emulator_trusts_only() {
    let e = emulator().await;
    let other = emulator().await;
    let minted: Value = reqwest::Client::new()
        .post(format!("{}_emulator/entra-token", e.endpoint()))
        .json(&json!({"claims": {"oid": "admin"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["token"].as_str().unwrap();
    assert!(minted["expiresOn"].is_string(), "{minted}");
    assert_eq!(
        with_bearer(&e, Method::POST, q("/identities", STABLE), token)
            .await
            .0,
        201
    );
    assert_error(
        &with_bearer(&other, Method::POST, q("/identities", STABLE), token).await,
        401,
        "InvalidAccessToken",
    );
    // An empty body gives a token with the defaults.
    let resp = reqwest::Client::new()
        .post(format!("{}_emulator/entra-token", e.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn the_signing_secret_shows_in_no_debug_output() {
    let e = emulator().await;
    let token = e.management_token();
    let signature = token.rsplit('.').next().unwrap().to_string();
    let debug = format!("{e:?}");
    assert!(
        !debug.contains(KEY) && !debug.contains(&signature),
        "{debug}"
    );
}

// Item 8: only loopback Host names are answered.

fn get(path: &str, host_lines: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\n{host_lines}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn foreign_hosts_get_421_with_the_service_error_body_everywhere() {
    let e = emulator().await;
    for path in [
        "/_emulator/faults",
        "/_emulator/stats",
        "/_emulator/health",
        "/identities?api-version=2025-06-30",
    ] {
        for host in [
            "evil.example",
            format!("evil.example:{}", e.addr().port()).as_str(),
            "127.0.0.1.nip.io",
            "localhost.evil.example",
        ] {
            let (answer, closed) = raw(&e, &get(path, &format!("Host: {host}\r\n")), LIMIT).await;
            assert!(closed, "{path} {host}");
            assert_eq!(status_of(&answer), Some(421), "{path} {host}: {answer}");
            assert_eq!(body_of(&answer)["error"]["code"], "MisdirectedRequest");
        }
    }
    // A browser page on a rebinding name cannot set faults.
    let put = b"PUT /_emulator/faults HTTP/1.1\r\nHost: rebind.example\r\nContent-Type: application/json\r\nContent-Length: 19\r\nConnection: close\r\n\r\n{\"faults\":\"503x1\"}\n";
    let (answer, _) = raw(&e, put, LIMIT).await;
    assert_eq!(status_of(&answer), Some(421), "{answer}");
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201, "no fault armed");
    // The same goes for an absolute request target naming another host.
    let (answer, _) = raw(
        &e,
        &get(
            "http://evil.example/_emulator/stats",
            &format!("Host: {}\r\n", e.addr()),
        ),
        LIMIT,
    )
    .await;
    assert_eq!(status_of(&answer), Some(421), "{answer}");
}

#[tokio::test]
async fn loopback_hosts_are_answered() {
    let e = emulator().await;
    let port = e.addr().port();
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "localhost".to_string(),
        "LocalHost".to_string(),
        format!("[::1]:{port}"),
        "[::1]".to_string(),
    ] {
        let (answer, _) = raw(
            &e,
            &get("/_emulator/health", &format!("Host: {host}\r\n")),
            LIMIT,
        )
        .await;
        assert_eq!(status_of(&answer), Some(200), "{host}: {answer}");
    }
    let mut signed = Req::new(Method::POST, q("/identities", STABLE));
    signed.signed_host = Some(format!("localhost:{port}"));
    let url_host = format!("localhost:{port}");
    // Signed for and sent to localhost.
    let answer = signed.send_to(&url_host).await;
    assert_eq!(answer.0, 201, "{}", answer.1);
}

#[tokio::test]
async fn missing_duplicate_or_malformed_host_gets_400_not_401() {
    let e = emulator().await;
    let addr = e.addr().to_string();
    for (what, lines) in [
        ("no Host", String::new()),
        (
            "two Host headers",
            format!("Host: {addr}\r\nHost: {addr}\r\n"),
        ),
        ("a space in Host", "Host: 127.0.0.1 evil\r\n".to_string()),
        ("an empty Host", "Host: \r\n".to_string()),
        (
            "a port that is not a number",
            "Host: localhost:x\r\n".to_string(),
        ),
    ] {
        for path in ["/identities?api-version=2025-06-30", "/_emulator/stats"] {
            let (answer, _) = raw(&e, &get(path, &lines), LIMIT).await;
            assert_eq!(status_of(&answer), Some(400), "{what} {path}: {answer}");
            assert_eq!(
                body_of(&answer)["error"]["code"],
                "InvalidHostHeader",
                "{what}"
            );
        }
    }
}

// Item 9: idle and slow connections.

#[tokio::test]
async fn a_partial_request_head_is_closed_within_the_header_timeout() {
    let e = Emulator::builder()
        .access_key(KEY)
        .header_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = raw(
        &e,
        b"POST /identities?api-version=2025-06-30 HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        LIMIT,
    )
    .await;
    assert!(closed, "the half-sent head was not closed in {LIMIT:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // An idle connection that sent nothing is closed the same way.
    let started = Instant::now();
    let (_, closed) = raw(&e, b"", LIMIT).await;
    assert!(closed && started.elapsed() < Duration::from_secs(5));
    e.shutdown().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_gets_408_within_the_body_timeout() {
    let e = Emulator::builder()
        .access_key(KEY)
        .body_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let head = format!(
        "POST /identities?api-version=2025-06-30 HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"customId\":",
        e.addr()
    );
    let (answer, closed) = raw(&e, head.as_bytes(), LIMIT).await;
    assert!(
        closed,
        "the short body was not closed in {LIMIT:?}: {answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status_of(&answer), Some(408), "{answer}");
    assert_eq!(body_of(&answer)["error"]["code"], "RequestTimeout");
    // The same on the emulator-only endpoints.
    let head = format!(
        "PUT /_emulator/faults HTTP/1.1\r\nHost: {}\r\nContent-Length: 50\r\n\r\n{{",
        e.addr()
    );
    let (answer, closed) = raw(&e, head.as_bytes(), LIMIT).await;
    assert!(closed);
    assert_eq!(status_of(&answer), Some(408), "{answer}");
    e.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_signed_request_is_still_answered() {
    const CAP: usize = 8;
    let e = Emulator::builder()
        .access_key(KEY)
        .max_connections(CAP)
        .start()
        .await
        .unwrap();
    let mut idle = Vec::new();
    for i in 0..CAP + 6 {
        let mut s = TcpStream::connect(e.addr()).await.unwrap();
        if i % 2 == 0 {
            // Half of them start a request and stall.
            s.write_all(b"POST /identities HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    let started = Instant::now();
    for _ in 0..3 {
        let answer = tokio::time::timeout(LIMIT, create(&e, json!({}), STABLE))
            .await
            .expect("a signed request is answered while idle connections fill the cap");
        assert_eq!(answer.0, 201);
    }
    assert!(started.elapsed() < LIMIT);
    // The oldest idle connections made room: at least the excess is closed.
    let mut closed = 0;
    for s in &mut idle {
        if read_until_closed(s, Duration::from_millis(200)).await.1 {
            closed += 1;
        }
    }
    assert!(closed >= 6, "only {closed} idle connections were closed");
    e.shutdown().await;
}

// Item 10: fault specs are bounded when parsed, and a panic poisons nothing.

async fn put_faults(e: &Emulator, spec: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}_emulator/faults", e.endpoint()))
        .json(&json!({ "faults": spec }))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn fault_specs_that_overflow_are_refused_and_the_emulator_keeps_serving() {
    let e = emulator().await;
    for spec in [
        "latency=1.8e19s;latency=1.8e19s",
        "latency=1e30s",
        "latency=18446744073709551615ms",
        "latency=inf",
        "429/retry-after=99999999999999999999",
    ] {
        let answer = put_faults(&e, spec).await;
        assert_error(&answer, 400, "ValidationError");
        assert_eq!(answer.1["error"]["target"], "faults");
    }
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201);
    // Latencies that add past the bound are capped, not overflowed.
    let answer = put_faults(&e, "latency=1ms;latency=2ms").await;
    assert_eq!(answer.0, 200);
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201);
    let got: Value = reqwest::get(format!("{}_emulator/faults", e.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["faults"], "latency=1ms;latency=2ms");
}

#[tokio::test]
async fn the_spec_get_returns_can_be_put_back() {
    let e = emulator().await;
    for spec in [
        "latency=0.5ms",
        "latency=1.25s",
        "create_identity:429/retry-after-ms=300@0.000001",
        "drop@0.1;503x4294967295",
    ] {
        assert_eq!(put_faults(&e, spec).await.0, 200, "{spec}");
        let got: Value = reqwest::get(format!("{}_emulator/faults", e.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = got["faults"].as_str().unwrap().to_string();
        let again = put_faults(&e, &text).await;
        assert_eq!(again.0, 200, "{spec} → {text}");
        assert_eq!(again.1["faults"], text.as_str(), "{spec}");
    }
}

// Item 11: faults apply to authenticated requests only.

#[tokio::test]
async fn unauthenticated_requests_do_not_consume_armed_faults() {
    let e = emulator().await;
    e.set_faults("create_identity:503x1".parse().unwrap());
    let unsigned = reqwest::Client::new()
        .post(format!("{}identities?api-version={STABLE}", e.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let mut wrong_key = Req::new(Method::POST, q("/identities", STABLE));
    wrong_key.key = "b3RoZXIta2V5".into();
    assert_eq!(wrong_key.send(&e).await.0, 401);
    let forged = jwt(
        json!({"alg": "none"}),
        json!({"aud": "https://communication.azure.com", "exp": now() + 600}),
        None,
    );
    assert_eq!(
        with_bearer(&e, Method::POST, q("/identities", STABLE), &forged)
            .await
            .0,
        401
    );
    assert_error(
        &create(&e, json!({}), STABLE).await,
        503,
        "ServiceUnavailable",
    );
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201);
    assert_eq!(e.stats().faults, 1);
    // Unknown paths and versions are answered before faults too.
    e.set_faults("503x1".parse().unwrap());
    assert_eq!(
        Req::new(Method::GET, q("/nowhere", STABLE))
            .send(&e)
            .await
            .0,
        404
    );
    assert_eq!(create(&e, json!({}), "2019-01-01").await.0, 400);
    assert_eq!(create(&e, json!({}), STABLE).await.0, 503);
}

// Item 7, with --jwks: RS256 tokens of another issuer.

/// A JWKS with one RSA key, and two tokens that key signed (expiring in
/// 2100; the private key was thrown away after signing them).
#[cfg(feature = "jwks")]
fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[cfg(feature = "jwks")]
#[tokio::test]
async fn rs256_tokens_of_a_given_jwks_work_and_nothing_else_does() {
    let with_jwks = Emulator::builder()
        .access_key(KEY)
        .jwks(fixture("jwks.json"))
        .start()
        .await
        .unwrap();
    let without = emulator().await;
    let good = fixture("rs256-management-token.jwt");
    let evil = fixture("rs256-evil-audience-token.jwt");
    let path = || q("/identities", STABLE);
    assert_eq!(
        with_bearer(&with_jwks, Method::POST, path(), &good).await.0,
        201
    );
    assert_error(
        &with_bearer(&with_jwks, Method::POST, path(), &evil).await,
        401,
        "InvalidAccessToken",
    );
    assert_error(
        &with_bearer(&without, Method::POST, path(), &good).await,
        401,
        "InvalidAccessToken",
    );
    // The same RS256 header over changed claims: the signature no longer fits.
    let (head, rest) = good.split_once('.').unwrap();
    let sig = rest.rsplit_once('.').unwrap().1;
    let changed = URL_SAFE_NO_PAD.encode(
        json!({"aud": "https://communication.azure.com", "exp": now() + 3600, "oid": "intruder"})
            .to_string(),
    );
    assert_error(
        &with_bearer(
            &with_jwks,
            Method::POST,
            path(),
            &format!("{head}.{changed}.{sig}"),
        )
        .await,
        401,
        "InvalidAccessToken",
    );
    // The emulator's own tokens keep working next to the JWKS.
    assert_eq!(
        with_bearer(
            &with_jwks,
            Method::POST,
            path(),
            &with_jwks.management_token()
        )
        .await
        .0,
        201
    );
}

// Issue 20, item 7: origins (the data file under any name and its mode are
// in persistence.rs).

/// Sends `method /_emulator/{path}` with a JSON body and, when given, an
/// Origin header.
async fn control(e: &Emulator, method: Method, path: &str, origin: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}_emulator/{path}", e.endpoint()))
        .header("content-type", "application/json")
        .body(r#"{"faults": "503x1"}"#)
        .timeout(LIMIT);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap().status().as_u16()
}

/// A page on another site can send a JSON body with a script (the answer
/// is unreadable to it, but the call is made): calls that change something
/// are refused when they carry any Origin but the emulator's own.
#[tokio::test]
async fn emulator_calls_from_another_origin_are_refused() {
    let e = emulator().await;
    create(&e, json!({}), STABLE).await;
    let own = format!("http://{}", e.addr());
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1",
        "http://127.0.0.1:1",
        "https://127.0.0.1:1",
    ] {
        let origin = if origin.ends_with(":1") {
            origin.replace(":1", &format!(":{}", e.addr().port()))
        } else {
            origin.to_string()
        };
        if origin == own {
            continue;
        }
        assert_eq!(
            control(&e, Method::POST, "reset", Some(&origin)).await,
            403,
            "{origin}"
        );
        assert_eq!(
            control(&e, Method::PUT, "faults", Some(&origin)).await,
            403,
            "{origin}"
        );
        assert_eq!(
            control(&e, Method::PUT, "groups/g/members", Some(&origin)).await,
            403,
            "{origin}"
        );
        assert_eq!(
            control(&e, Method::POST, "entra-token", Some(&origin)).await,
            403,
            "{origin}"
        );
    }
    assert_eq!(identities(&e).await, 1, "nothing was reset");
    let faults: Value = reqwest::get(format!("{}_emulator/faults", e.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["faults"], "", "no fault armed");
    // Reading is not changing: a GET with any Origin is answered.
    let read = reqwest::Client::new()
        .get(format!("{}_emulator/stats", e.endpoint()))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    // Its own origin (the inspector page), any case, and no Origin at all
    // (a script, curl, a test) work.
    assert_eq!(control(&e, Method::PUT, "faults", Some(&own)).await, 200);
    assert_eq!(
        control(
            &e,
            Method::PUT,
            "faults",
            Some(&own.replace("http", "HTTP"))
        )
        .await,
        200
    );
    let localhost = format!("http://localhost:{}", e.addr().port());
    let by_name = reqwest::Client::new()
        .put(format!("{localhost}/_emulator/faults"))
        .header("content-type", "application/json")
        .header("origin", &localhost)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_name.status().as_u16(),
        200,
        "the page opened as localhost"
    );
    assert_eq!(control(&e, Method::POST, "reset", None).await, 204);
    assert_eq!(identities(&e).await, 0);
}
