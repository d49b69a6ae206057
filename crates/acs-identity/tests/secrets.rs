//! No public value, error or log line shows the access key, a token or a
//! signature, whatever has passed through it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_identity::{
    CommunicationIdentityClient, ConnectionString, Error, GetTokenForTeamsUserOptions, TokenScope,
};
use common::*;
use httpmock::{HttpMockResponse, MockServer};
use serde_json::json;

/// Everything that must never be shown, plus any `extra` (signatures seen
/// on the wire).
fn secrets(extra: &[String]) -> Vec<String> {
    let mut all = vec![
        key_base64(),
        KEY_TEXT.to_string(),
        ACS_TOKEN.to_string(),
        ENTRA_USER_TOKEN.to_string(),
        SERVICE_ENTRA_TOKEN.to_string(),
        "Signature=".to_string(),
    ];
    all.extend_from_slice(extra);
    all
}

#[track_caller]
fn assert_hidden(what: &str, text: &str, extra: &[String]) {
    for secret in secrets(extra) {
        assert!(
            !text.contains(&secret),
            "{what} shows a secret starting {:?}: {text}",
            &secret[..secret.len().min(12)]
        );
    }
}

/// `Debug`, alternate `Debug` and (where there is one) `Display` of a value.
macro_rules! assert_formats_hide_secrets {
    ($what:expr, $value:expr, debug) => {
        let v = &$value;
        assert_hidden($what, &format!("{v:?}"), &[]);
        assert_hidden($what, &format!("{v:#?}"), &[]);
    };
    ($what:expr, $value:expr, debug + display) => {
        let v = &$value;
        assert_hidden($what, &format!("{v:?}"), &[]);
        assert_hidden($what, &format!("{v:#?}"), &[]);
        assert_hidden($what, &format!("{v}"), &[]);
    };
}

/// An error's `Display`, `Debug` and the `Display` of every source.
fn error_text(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n{err:#?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

/// The signature part of each `Authorization: HMAC-SHA256 …` header received.
fn signatures(log: &Recorded) -> Vec<String> {
    log.requests()
        .iter()
        .filter_map(|r| single_header(r, "authorization").ok())
        .filter_map(|a| a.split("Signature=").nth(1))
        .map(str::to_string)
        .collect()
}

#[test]
fn connection_string_and_access_key_hide_the_key() {
    let text = format!(
        "endpoint=https://r.communication.azure.com/;accesskey={}",
        key_base64()
    );
    let cs: ConnectionString = text.parse().unwrap();
    assert_formats_hide_secrets!("ConnectionString", cs, debug);
    assert_formats_hide_secrets!("AccessKey", cs.access_key().clone(), debug);
    assert_formats_hide_secrets!("AccessKey", access_key(), debug);
    assert_eq!(cs.access_key().expose_secret(), key_base64());

    // Refused connection strings do not repeat the key either.
    let refused = [
        format!("endpoint=not a url;accesskey={}", key_base64()),
        format!(
            "endpoint=https://a.example;accesskey={0};accesskey={0}",
            key_base64()
        ),
        format!("endpoint=https://a.example;{}", key_base64()),
        format!("endpoint=https://a.example;{}=x", key_base64()),
    ];
    for text in refused {
        let err = ConnectionString::parse(&text).unwrap_err();
        assert_formats_hide_secrets!("ConnectionStringError", err, debug + display);
        let err = CommunicationIdentityClient::from_connection_string(&text).unwrap_err();
        assert_hidden("Error::ConnectionString", &error_text(&err), &[]);
    }
}

#[tokio::test]
async fn builders_and_clients_hide_the_key_and_the_entra_token_even_after_calls() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(204);
        })
        .await;
    let builder = builder(&server).application_id("token-svc");
    assert_formats_hide_secrets!("ClientBuilder", builder, debug);
    let stable = builder.clone().build().unwrap();
    let preview = builder.build_preview().unwrap();
    let entra = token_credential_builder(&server).build().unwrap();
    bounded(stable.revoke_tokens(&user())).await.unwrap();
    bounded(preview.revoke_tokens(&user())).await.unwrap();
    bounded(entra.revoke_tokens(&user())).await.unwrap();
    assert_formats_hide_secrets!("stable client", stable, debug);
    assert_formats_hide_secrets!("preview client", preview, debug);
    assert_formats_hide_secrets!("token credential client", entra, debug);
    assert_formats_hide_secrets!(
        "token credential builder",
        token_credential_builder(&server),
        debug
    );
}

#[tokio::test]
async fn tokens_returned_by_calls_are_hidden_in_debug() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ["chat"] }))
                    .matcher(),
            );
            reply_json(then, 201, user_and_token_body(USER_ID));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/teamsUser/:exchangeAccessToken", STABLE)
                    .json(json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }))
                    .matcher(),
            );
            reply_json(then, 200, json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "POST",
                    "/access/teamsExtension/:exchangeAccessToken",
                    STABLE,
                )
                .json(json!({}))
                .bearer(ENTRA_USER_TOKEN)
                .matcher(),
            );
            reply_json(then, 200, user_and_token_body(USER_ID));
        })
        .await;
    let client = stable_client(&server);
    let created = bounded(client.create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap();
    assert_eq!(created.access_token.token(), ACS_TOKEN);
    assert_formats_hide_secrets!("CommunicationUserAndToken", created, debug);
    assert_formats_hide_secrets!("AccessToken", created.access_token, debug);

    let options = GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID);
    assert_formats_hide_secrets!("GetTokenForTeamsUserOptions", options, debug);
    let token = bounded(client.get_token_for_teams_user(&options))
        .await
        .unwrap();
    assert_eq!(token.token(), ACS_TOKEN);
    assert_formats_hide_secrets!("AccessToken", token, debug);
    assert_formats_hide_secrets!("GetTokenForTeamsUserOptions after use", options, debug);

    let exchanged = bounded(client.exchange_teams_extension_token(ENTRA_USER_TOKEN))
        .await
        .unwrap();
    assert_formats_hide_secrets!("CommunicationUserAndToken", exchanged, debug);
    assert_formats_hide_secrets!("client after exchanges", client, debug);
}

#[tokio::test]
async fn a_401_answer_is_reported_without_the_signature_or_key() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("DELETE", &format!("/identities/{USER_ID}"), STABLE).recording(&log),
            );
            reply_json(
                then,
                401,
                error_body("Unauthorized", "Denied by the authentication policy.", None),
            );
        })
        .await;
    let err = bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let seen = signatures(&log);
    assert_eq!(seen.len(), 1);
    assert_hidden("401 error", &error_text(&err), &seen);
}

#[tokio::test]
async fn error_text_echoing_the_request_is_redacted() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    // A gateway that answers with the Authorization header and body it got.
    let echo = |status: u16| {
        move |req: &httpmock::HttpMockRequest| {
            let auth = single_header(req, "authorization").unwrap_or_default();
            HttpMockResponse::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(format!(
                    "denied: authorization={auth} body={}",
                    req.body_string()
                ))
                .build()
        }
    };
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("DELETE", &format!("/identities/{USER_ID}"), STABLE).recording(&log),
            );
            then.respond_with(echo(401));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/teamsUser/:exchangeAccessToken", STABLE)
                    .json(json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }))
                    .recording(&log),
            );
            then.respond_with(echo(400));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "POST",
                    "/access/teamsExtension/:exchangeAccessToken",
                    STABLE,
                )
                .json(json!({}))
                .bearer(ENTRA_USER_TOKEN)
                .recording(&log),
            );
            then.respond_with(echo(401));
        })
        .await;
    let client = stable_client(&server);
    let options = GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID);
    let errors = [
        bounded(client.delete_user(&user())).await.unwrap_err(),
        bounded(client.get_token_for_teams_user(&options))
            .await
            .unwrap_err(),
        bounded(client.exchange_teams_extension_token(ENTRA_USER_TOKEN))
            .await
            .unwrap_err(),
    ];
    assert_eq!(log.requests().len(), 3, "every call reached the gateway");
    let seen = signatures(&log);
    assert_eq!(seen.len(), 2, "two of the three calls are signed");
    for err in &errors {
        let e = match err {
            Error::Service(e) => e,
            other => panic!("expected Error::Service, got {other:?}"),
        };
        assert!(
            e.message.starts_with("denied: authorization="),
            "{}",
            e.message
        );
        assert_hidden("echoed error", &error_text(err), &seen);
    }
}

#[tokio::test]
async fn a_malformed_answer_holding_a_token_is_reported_without_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ["chat"] }))
                    .matcher(),
            );
            // Cut short after the token.
            then.status(201)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"identity":{{"id":"{USER_ID}"}},"accessToken":{{"token":"{ACS_TOKEN}","expiresOn":"#
                ));
        })
        .await;
    let err = bounded(stable_client(&server).create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap_err();
    match &err {
        Error::Decode(e) => assert_eq!(e.status, Some(201)),
        other => panic!("expected Error::Decode, got {other:?}"),
    }
    assert_hidden("decode error", &error_text(&err), &[]);
}

#[tokio::test]
async fn transport_errors_and_timeouts_show_no_secret() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let refused = builder_for(&format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = bounded(refused.exchange_teams_extension_token(ENTRA_USER_TOKEN))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_hidden("transport error", &error_text(&err), &[]);

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(204).delay(Duration::from_secs(3));
        })
        .await;
    let slow = builder(&server)
        .retry(acs_identity::RetryOptions::none())
        .per_try_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = bounded(slow.revoke_tokens(&user())).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_hidden("timeout", &error_text(&err), &[]);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_error_shows_no_secret() {
    let server = MockServer::start_async().await;
    let elsewhere = MockServer::start_async().await;
    let landed = elsewhere
        .mock_async(|when, then| {
            when.any_request();
            then.status(204);
        })
        .await;
    let target = elsewhere.base_url();
    server
        .mock_async(|when, then| {
            when.any_request();
            then.respond_with(move |req| {
                HttpMockResponse::builder()
                    .status(307)
                    .header("location", format!("{target}{}", path_and_query(req)))
                    .build()
            });
        })
        .await;
    let client = stable_client(&server);
    let err = bounded(client.delete_user(&user())).await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert_eq!(err.status(), Some(307));
    assert_hidden("redirect", &error_text(&err), &[]);
    let err = bounded(client.exchange_teams_extension_token(ENTRA_USER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(307));
    assert_hidden("redirect", &error_text(&err), &[]);
    landed.assert_calls_async(0).await;
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn trace_level_logs_of_calls_show_no_secret() {
    // tracing caches whether a call site is wanted when it is first hit. With
    // one registered dispatcher, that is decided by the default of the thread
    // that hits it first, which can be another test's thread with no
    // subscriber. A second registered dispatcher makes tracing ask every
    // registered one, ours included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    let log = Recorded::default();
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ["chat"] }))
                    .recording(&log),
            );
            reply_json(then, 201, user_and_token_body(USER_ID));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/teamsUser/:exchangeAccessToken", STABLE)
                    .json(json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }))
                    .recording(&log),
            );
            reply_json(then, 200, json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "POST",
                    "/access/teamsExtension/:exchangeAccessToken",
                    STABLE,
                )
                .json(json!({}))
                .bearer(ENTRA_USER_TOKEN)
                .recording(&log),
            );
            reply_json(then, 200, user_and_token_body(USER_ID));
        })
        .await;
    let revoke = || {
        expect(
            "POST",
            &format!("/identities/{USER_ID}/:revokeAccessTokens"),
            STABLE,
        )
    };
    server
        .mock_async(|when, then| {
            when.is_true(revoke().recording(&log));
            then.status(503).up_to_n_times(1);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(revoke().recording(&log));
            then.status(204);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("DELETE", &format!("/identities/{USER_ID}"), STABLE).recording(&log),
            );
            reply_json(then, 401, error_body("Unauthorized", "Denied.", None));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", &format!("/access/entra/assignments/{OBJECT_ID}"), PREVIEW)
                    .bearer(SERVICE_ENTRA_TOKEN)
                    .recording(&log),
            );
            reply_json(
                then,
                200,
                json!({ "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "user", "clientIds": [] }),
            );
        })
        .await;

    let client = stable_client(&server);
    let options = GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID);
    bounded(client.create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap();
    bounded(client.get_token_for_teams_user(&options))
        .await
        .unwrap();
    bounded(client.exchange_teams_extension_token(ENTRA_USER_TOKEN))
        .await
        .unwrap();
    bounded(client.revoke_tokens(&user())).await.unwrap();
    let denied = bounded(client.delete_user(&user())).await.unwrap_err();
    tracing::error!(error = %denied, "the call failed");
    let entra = token_credential_builder(&server).build_preview().unwrap();
    bounded(entra.get_entra_assignment(OBJECT_ID))
        .await
        .unwrap();

    let text = captured.text();
    assert_eq!(log.requests().len(), 7);
    assert!(
        text.contains("acs_identity.call"),
        "no call span was logged: {text}"
    );
    assert!(text.contains("attempt finished"), "{text}");
    assert!(text.contains("retrying"), "{text}");
    for id in log.request_ids() {
        assert!(text.contains(&id), "request id {id} is not in the logs");
    }
    let seen = signatures(&log);
    assert_eq!(seen.len(), 5);
    assert_hidden("trace logs", &text, &seen);
}
