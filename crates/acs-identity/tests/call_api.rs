//! What issue 22 asks of every call: the service's correlation ids on its
//! errors, values that serialize, per-call options, answers with their
//! status and headers, and spans in Azure SDK and OpenTelemetry terms.

mod common;

use acs_identity::{
    AccessToken, CommunicationIdentifier, CommunicationIdentityClient, CommunicationUserAndToken,
    CommunicationUserIdentifier, TokenScope,
};
use acs_identity_emulator::Emulator;
use common::*;
use httpmock::MockServer;

async fn emulator_client() -> (Emulator, CommunicationIdentityClient) {
    let emulator = Emulator::builder()
        .start()
        .await
        .expect("the emulator starts");
    let client = CommunicationIdentityClient::from_connection_string(&emulator.connection_string())
        .expect("a client of the emulator");
    (emulator, client)
}

fn unknown_user() -> CommunicationUserIdentifier {
    "8:acs:resource_00000000-0000-0000-0000-000000000000"
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// 1. MS-CV and X-Azure-Ref on errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn service_errors_carry_the_services_ms_cv_and_azure_ref() {
    let (_emulator, client) = emulator_client().await;
    let err = bounded(client.get_token(&unknown_user(), [TokenScope::Chat]))
        .await
        .unwrap_err();
    let ms_cv = err.ms_cv().expect("MS-CV").to_string();
    let azure_ref = err.azure_ref().expect("X-Azure-Ref").to_string();
    assert!(ms_cv.ends_with(".0") && ms_cv.len() > 10, "{ms_cv}");
    assert!(!azure_ref.is_empty());
    let text = err.to_string();
    assert!(text.contains(&format!(", MS-CV {ms_cv}")), "{text}");
    assert!(
        text.contains(&format!(", X-Azure-Ref {azure_ref}")),
        "{text}"
    );
    let service = service_error(err);
    assert_eq!(service.ms_cv.as_deref(), Some(ms_cv.as_str()));
    assert_eq!(service.x_azure_ref.as_deref(), Some(azure_ref.as_str()));

    // Each answer has its own.
    let again = bounded(client.get_token(&unknown_user(), [TokenScope::Chat]))
        .await
        .unwrap_err();
    assert_ne!(again.ms_cv(), Some(ms_cv.as_str()));
}

#[tokio::test]
async fn decode_errors_carry_them_too_and_odd_values_are_left_out() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(201)
                .header("content-type", "application/json")
                .header("MS-CV", "AbCdEfGhIjKlMnOpQrStUv.0")
                .header("X-Azure-Ref", "x".repeat(300))
                .body(r#"{"id":"8:acs:resource_user"}"#);
        })
        .await;
    let err = bounded(stable_client(&server).create_user())
        .await
        .unwrap_err();
    assert_eq!(err.ms_cv(), Some("AbCdEfGhIjKlMnOpQrStUv.0"));
    // Longer than anything the service sends: not kept.
    assert_eq!(err.azure_ref(), None);
    let decode = decode_error(err);
    assert_eq!(decode.ms_cv.as_deref(), Some("AbCdEfGhIjKlMnOpQrStUv.0"));
}

#[tokio::test]
async fn answers_without_them_give_none() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            reply_json(then, 404, error_body("IdentityNotFound", "gone", None));
        })
        .await;
    let err = bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap_err();
    assert_eq!((err.ms_cv(), err.azure_ref()), (None, None));
    assert!(!err.to_string().contains("MS-CV"), "{err}");
}

// ---------------------------------------------------------------------------
// 4. serde
// ---------------------------------------------------------------------------

#[tokio::test]
async fn tokens_users_and_identifiers_round_trip_through_json() {
    let (_emulator, client) = emulator_client().await;
    let created = bounded(client.create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap();

    let json = serde_json::to_value(&created).unwrap();
    assert_eq!(json["user"], created.user.id());
    assert_eq!(json["accessToken"]["token"], created.access_token.token());
    assert!(json["accessToken"]["expiresOn"].is_string());
    let back: CommunicationUserAndToken = serde_json::from_value(json).unwrap();
    assert_eq!(back, created);

    let token_json = serde_json::to_string(&created.access_token).unwrap();
    let token: AccessToken = serde_json::from_str(&token_json).unwrap();
    assert_eq!(token, created.access_token);
    assert_eq!(token.expires_on(), created.access_token.expires_on());

    // An identifier is its raw id, read back through its parser.
    let id = CommunicationIdentifier::from(created.user.clone());
    let id_json = serde_json::to_string(&id).unwrap();
    assert_eq!(id_json, format!("\"{}\"", created.user.id()));
    assert_eq!(
        serde_json::from_str::<CommunicationIdentifier>(&id_json).unwrap(),
        id
    );
    assert!(
        serde_json::from_str::<CommunicationUserAndToken>(
            r#"{"user": "", "accessToken": {"token": "t", "expiresOn": "2025-01-01T00:00:00Z"}}"#
        )
        .is_err()
    );

    // The token still works: it is the same token.
    assert!(_emulator.is_token_valid(token.token()));
}

// ---------------------------------------------------------------------------
// 1. Answers with their status and headers, one way for every operation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_operation_gives_its_response_with_status_and_headers() {
    use acs_identity::{EntraAssignmentSpec, EntraPrincipalType, TeamsExtensionPrincipalType};
    let emulator = Emulator::builder().start().await.unwrap();
    let conn = emulator.connection_string();
    let client = CommunicationIdentityClient::from_connection_string(&conn).unwrap();
    let preview =
        acs_identity::preview::CommunicationIdentityClient::from_connection_string(&conn).unwrap();

    fn check<T>(what: &str, r: &acs_identity::Response<T>, status: u16) {
        assert_eq!(r.status(), status, "{what}");
        assert!(r.ms_cv().is_some_and(|cv| cv.ends_with(".0")), "{what}");
        assert!(r.azure_ref().is_some(), "{what}");
        assert_eq!(
            r.header("x-ms-client-request-id").map(str::len),
            Some(36),
            "{what}"
        );
    }

    let user = bounded(client.create_user().with_response()).await.unwrap();
    check("create_user", &user, 201);
    let user = user.into_value();
    let created = bounded(
        client
            .create_user_and_token([TokenScope::Chat])
            .with_response(),
    )
    .await
    .unwrap();
    check("create_user_and_token", &created, 201);
    let token = bounded(client.get_token(&user, [TokenScope::Chat]).with_response())
        .await
        .unwrap();
    check("get_token", &token, 200);
    assert!(emulator.is_token_valid(token.value().token()));
    let revoked = bounded(client.revoke_tokens(&user).with_response())
        .await
        .unwrap();
    check("revoke_tokens", &revoked, 204);
    let detail = bounded(preview.get_user(&user).with_response())
        .await
        .unwrap();
    check("get_user", &detail, 200);
    assert_eq!(detail.value().user, user);

    let upserted = bounded(
        client
            .upsert_teams_extension_assignment(
                "tenant-id",
                "user-oid",
                TeamsExtensionPrincipalType::User,
                ["app-id"],
            )
            .with_response(),
    )
    .await
    .unwrap();
    check("upsert_teams_extension_assignment", &upserted, 201);
    let got = bounded(
        client
            .get_teams_extension_assignment("tenant-id", "user-oid")
            .with_response(),
    )
    .await
    .unwrap();
    check("get_teams_extension_assignment", &got, 200);
    let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
    let entra_token = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none"}"#),
            b64.encode(claims.to_string())
        )
    };
    let exchanged = bounded(
        client
            .exchange_teams_extension_token(&entra_token)
            .with_response(),
    )
    .await
    .unwrap();
    check("exchange_teams_extension_token", &exchanged, 200);
    let options =
        acs_identity::GetTokenForTeamsUserOptions::new(&entra_token, "app-id", "user-oid");
    let teams = bounded(client.get_token_for_teams_user(&options).with_response())
        .await
        .unwrap();
    check("get_token_for_teams_user", &teams, 200);
    let deleted = bounded(
        client
            .delete_teams_extension_assignment("tenant-id", "user-oid")
            .with_response(),
    )
    .await
    .unwrap();
    check("delete_teams_extension_assignment", &deleted, 204);

    let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id"]);
    let entra = bounded(
        preview
            .upsert_entra_assignment("user-oid", spec.clone())
            .with_response(),
    )
    .await
    .unwrap();
    check("upsert_entra_assignment", &entra, 201);
    let got = bounded(preview.get_entra_assignment("user-oid").with_response())
        .await
        .unwrap();
    check("get_entra_assignment", &got, 200);
    let exchanged = bounded(preview.exchange_entra_token(&entra_token).with_response())
        .await
        .unwrap();
    check("exchange_entra_token", &exchanged, 200);
    let bulk = bounded(
        preview
            .update_entra_assignments([("other-oid".to_string(), Some(spec))])
            .with_response(),
    )
    .await
    .unwrap();
    assert!((200..=204).contains(&bulk.status()));
    check("update_entra_assignments", &bulk, bulk.status());
    let deleted = bounded(preview.delete_entra_assignment("user-oid").with_response())
        .await
        .unwrap();
    check("delete_entra_assignment", &deleted, 204);
    let gone = bounded(client.delete_user(&user).with_response())
        .await
        .unwrap();
    check("delete_user", &gone, 204);

    // Awaited without `with_response`, the same calls give the value alone.
    let again: CommunicationUserIdentifier = bounded(client.create_user()).await.unwrap();
    bounded(client.delete_user(&again)).await.unwrap();
}

// ---------------------------------------------------------------------------
// 2. Per-call options
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_call_timeout_ends_a_slow_call_whatever_the_client_allows() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.set_faults("latency=3s".parse().unwrap());
    let client = CommunicationIdentityClient::builder(&emulator.endpoint())
        .access_key(acs_identity::AccessKey::new(emulator.access_key()).unwrap())
        .per_try_timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = bounded(
        client
            .create_user()
            .timeout(std::time::Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, acs_identity::Error::Timeout { .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Its own timeout replaces the client's deadline: a call may take longer.
    let client = CommunicationIdentityClient::builder(&emulator.endpoint())
        .access_key(acs_identity::AccessKey::new(emulator.access_key()).unwrap())
        .deadline(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    emulator.set_faults("latency=500ms".parse().unwrap());
    let err = bounded(client.create_user()).await.unwrap_err();
    assert!(
        matches!(err, acs_identity::Error::Timeout { .. }),
        "{err:?}"
    );
    bounded(
        client
            .create_user()
            .timeout(std::time::Duration::from_secs(15)),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn extra_headers_reach_every_attempt_and_the_signature_still_holds() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.header("x-app-trace", "trace-42")
                .header("x-app-tag", "a")
                .is_true(signed_with_test_key());
            then.status(503);
        })
        .await;
    let client = stable_client(&server);
    let err = bounded(
        client
            .delete_user(&user())
            .header("X-App-Trace", "trace-42")
            .header("x-app-tag", "a"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(503));
    // Every retry carried them, signed like the first.
    assert!(failing.calls_async().await > 1);
}

#[tokio::test]
async fn the_clients_own_headers_cannot_be_replaced_and_nothing_is_sent() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(204);
        })
        .await;
    let client = stable_client(&server);
    for name in [
        "Authorization",
        "x-ms-date",
        "host",
        "x-ms-content-sha256",
        "x-ms-client-request-id",
        "user-agent",
        "content-type",
    ] {
        let err = bounded(client.delete_user(&user()).header(name, "x"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                acs_identity::Error::InvalidArgument { name: "header", .. }
            ),
            "{name}: {err:?}"
        );
    }
    let err = bounded(client.create_user().header("bad name", "x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a header name"), "{err}");
    // A bad value is refused without being shown (it may be a secret).
    let err = bounded(
        client
            .get_token(&user(), [TokenScope::Chat])
            .header("x-app-secret", "line\nbreak-s3cret"),
    )
    .await
    .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert_eq!(any.calls_async().await, 0);
}

// ---------------------------------------------------------------------------
// 6. Spans
// ---------------------------------------------------------------------------

mod spans {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::registry::LookupSpan;

    /// A span's id and its fields.
    type Recorded = (u64, BTreeMap<String, String>);

    /// The fields of every `acs_identity.call` span, in the order the spans began.
    #[derive(Clone, Default)]
    pub struct Spans(Arc<Mutex<Vec<Recorded>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_string(), value.to_string());
        }
    }

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
            if attrs.metadata().name() != "acs_identity.call" {
                return;
            }
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push((id.into_u64(), fields));
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
            let mut spans = self.0.lock().unwrap();
            if let Some((_, fields)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
                values.record(&mut Fields(fields));
            }
        }
    }

    impl Spans {
        pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
            tracing_subscriber::registry().with(self.clone())
        }

        pub fn all(&self) -> Vec<BTreeMap<String, String>> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .map(|(_, f)| f.clone())
                .collect()
        }
    }
}

#[tokio::test]
async fn call_spans_carry_azure_and_opentelemetry_attributes_and_no_secret() {
    // See secrets.rs: a second dispatcher makes tracing ask ours too.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let spans = spans::Spans::default();
    let _guard = tracing::subscriber::set_default(spans.subscriber());

    let emulator = Emulator::builder().start().await.unwrap();
    let client = CommunicationIdentityClient::builder(&emulator.endpoint())
        .access_key(acs_identity::AccessKey::new(emulator.access_key()).unwrap())
        .retry(fast_retry())
        .build()
        .unwrap();
    let created = bounded(client.create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap();
    // A retried call: two 503s, then the answer.
    emulator.set_faults("issue_access_token:503x2".parse().unwrap());
    let token = bounded(client.get_token(&created.user, [TokenScope::Chat]))
        .await
        .unwrap();
    let err = bounded(client.get_token(&unknown_user(), [TokenScope::Chat]))
        .await
        .unwrap_err();

    let all = spans.all();
    assert_eq!(all.len(), 3, "{all:#?}");
    let endpoint = url::Url::parse(&emulator.endpoint()).unwrap();
    for span in &all {
        assert_eq!(span["az.namespace"], "Microsoft.Communication", "{span:?}");
        assert_eq!(span["otel.kind"], "client");
        assert_eq!(span["otel.name"], span["operation"]);
        assert_eq!(span["http.request.method"], "POST");
        assert_eq!(span["server.address"], endpoint.host_str().unwrap());
        assert_eq!(span["server.port"], endpoint.port().unwrap().to_string());
        assert_eq!(span["az.client_request_id"].len(), 36);
        assert!(span["az.service_request_id"].ends_with(".0"), "{span:?}");
        let text = format!("{span:?}");
        for secret in [
            emulator.access_key(),
            created.access_token.token(),
            token.token(),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(
            !text.contains("HMAC-SHA256") && !text.contains("Bearer"),
            "{text}"
        );
    }
    assert_eq!(all[0]["operation"], "create_identity");
    assert_eq!(all[0]["http.response.status_code"], "201");
    assert!(!all[0].contains_key("http.request.resend_count"));
    assert!(!all[0].contains_key("error.type"));
    assert_eq!(all[1]["operation"], "issue_access_token");
    assert_eq!(all[1]["http.response.status_code"], "200");
    assert_eq!(all[1]["http.request.resend_count"], "2");
    assert_eq!(all[2]["http.response.status_code"], "404");
    assert_eq!(all[2]["error.type"], "404");
    assert_eq!(all[2]["az.service_request_id"], err.ms_cv().unwrap());
}
