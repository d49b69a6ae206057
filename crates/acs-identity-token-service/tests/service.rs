//! The token service end to end: a signed-in caller gets a token the
//! emulator accepts; everyone else gets 401 and nothing is created.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{AUDIENCE, Setup, client, json, validate};
use serde_json::json;

#[tokio::test]
async fn a_signed_in_user_gets_a_valid_token_and_keeps_one_identity() {
    let setup = Setup::new("", "cache = false").await;
    let first = json(setup.token("alice", json!({"scopes": ["chat"]})).await, 200).await;
    let token = first["token"].as_str().unwrap();
    let checked = validate(&setup.emulator, token).await;
    assert_eq!(checked["valid"], true, "{checked}");
    assert_eq!(checked["userId"], first["userId"]);
    assert_eq!(checked["scopes"], json!(["chat"]));
    assert!(
        chrono::DateTime::parse_from_rfc3339(first["expiresOn"].as_str().unwrap()).is_ok(),
        "{first}"
    );

    let again = json(setup.token("alice", json!({"scopes": ["chat"]})).await, 200).await;
    assert_eq!(
        again["userId"], first["userId"],
        "one identity per app user"
    );
    assert_ne!(again["token"], first["token"], "no cache: a new token");
    let bob = json(setup.token("bob", json!({})).await, 200).await;
    assert_ne!(bob["userId"], first["userId"]);
    assert_eq!(setup.emulator.identities().len(), 2);
    setup.stop().await;
}

#[tokio::test]
async fn no_body_asks_for_every_allowed_scope_and_more_is_forbidden() {
    let setup = Setup::new("", "scopes = [\"chat\", \"voip\"]").await;
    let answer = setup.post("/token", Some(&setup.sign_in("alice"))).await;
    let answer = json(answer, 200).await;
    let checked = validate(&setup.emulator, answer["token"].as_str().unwrap()).await;
    assert_eq!(checked["scopes"], json!(["chat", "voip"]));

    for scopes in [
        json!(["chat.join"]),
        json!(["pstn"]),
        json!(["chat", "voip.join"]),
    ] {
        let refused = json(setup.token("alice", json!({ "scopes": scopes })).await, 403).await;
        assert_eq!(refused["error"]["code"], "ScopeNotAllowed", "{refused}");
    }
    let bad = json(setup.token("alice", json!({"scopes": "chat"})).await, 400).await;
    assert_eq!(bad["error"]["code"], "InvalidBody");
    let metrics = setup.service.metrics();
    assert!(
        metrics.contains("acs_token_service_refusals_total{reason=\"scope\"} 3"),
        "{metrics}"
    );
    setup.stop().await;
}

/// A JWT with `header` and `claims`, signed by `sign` (its signature text).
fn forged(header: serde_json::Value, claims: serde_json::Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_401_and_creates_nothing() {
    let setup = Setup::new("", "").await;
    let now = chrono::Utc::now().timestamp();
    let kid = setup.issuer.current_kid();
    let claims =
        json!({"iss": setup.issuer.issuer(), "aud": AUDIENCE, "sub": "mallory", "exp": now + 600});
    let other_issuer = acs_identity_token_service::DevIssuer::start()
        .await
        .unwrap();
    let good = setup.sign_in("mallory");
    let mut tampered = good.clone();
    tampered.truncate(good.len() - 4);
    tampered.push_str("AAAA");
    let cases: Vec<(&str, Option<String>, &str)> =
        vec![
            ("missing", None, "missing"),
            ("not a jwt", Some("not-a-jwt".into()), "malformed"),
            (
                "alg none",
                Some(forged(
                    json!({"alg": "none", "kid": kid}),
                    claims.clone(),
                    "",
                )),
                "malformed",
            ),
            (
                "HS256 with the key id",
                Some(forged(
                    json!({"alg": "HS256", "kid": kid}),
                    claims.clone(),
                    "c2ln",
                )),
                "algorithm",
            ),
            ("tampered signature", Some(tampered), "signature"),
            (
                "another issuer's key",
                Some(other_issuer.token(AUDIENCE, "mallory")),
                "signature",
            ),
            (
                "another audience",
                Some(setup.issuer.token("someone-else", "mallory")),
                "audience",
            ),
            (
                "another issuer",
                Some(setup.issuer.token_with(
                    json!({"aud": AUDIENCE, "sub": "m", "iss": "https://evil.example"}),
                )),
                "issuer",
            ),
            (
                "expired",
                Some(
                    setup
                        .issuer
                        .token_with(json!({"aud": AUDIENCE, "sub": "m", "exp": now - 3600})),
                ),
                "expired",
            ),
            (
                "not yet valid",
                Some(
                    setup
                        .issuer
                        .token_with(json!({"aud": AUDIENCE, "sub": "m", "nbf": now + 3600})),
                ),
                "not_yet_valid",
            ),
            (
                "no user",
                Some(setup.issuer.token_with(json!({"aud": AUDIENCE}))),
                "user",
            ),
            (
                "a user id too long",
                Some(setup.issuer.token(AUDIENCE, &"x".repeat(257))),
                "user",
            ),
        ];
    for (case, token, reason) in &cases {
        let response = setup.post("/token", token.as_deref()).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{case}"
        );
        let body = json(response, 401).await;
        assert_eq!(body["error"]["code"], "InvalidToken", "{case}: {body}");
        let metrics = setup.service.metrics();
        assert!(
            metrics.contains(&format!("refusals_total{{reason=\"{reason}\"}}")),
            "{case}: {metrics}"
        );
    }
    // A token in another scheme, and revocation without a token.
    let basic = setup
        .http
        .post(format!("{}/token", setup.url))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let revoke = setup.post("/token/revoke", None).await;
    assert_eq!(revoke.status(), 401);
    assert!(
        setup.emulator.identities().is_empty(),
        "nothing was created"
    );
    assert_eq!(setup.emulator.stats().tokens_issued, 0);
    setup.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_its_first_use_and_the_old_one_stops_working() {
    // No wait between fetches, so the rotated key is fetched at once.
    let setup = Setup::tuned(|config| config.oidc.jwks_refresh_seconds = 0).await;
    let old = setup.sign_in("alice");
    json(setup.token("alice", json!({})).await, 200).await;
    setup.issuer.rotate();
    let new = setup.sign_in("alice");
    assert_ne!(
        jsonwebtoken::decode_header(&new).unwrap().kid,
        jsonwebtoken::decode_header(&old).unwrap().kid
    );
    let answer = setup.post("/token", Some(&new)).await;
    json(answer, 200).await;
    let stale = setup.post("/token", Some(&old)).await;
    let body = json(stale, 401).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("key"),
        "{body}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn unknown_keys_are_fetched_at_most_once_per_interval() {
    // jwks_refresh_seconds = 3600: after the first fetch, a rotated key is
    // not fetched again within the hour, so a flood of made-up kids costs
    // the issuer nothing.
    let setup = Setup::edited(|_, text| {
        text.replace("jwks_refresh_seconds = 10", "jwks_refresh_seconds = 3600")
    })
    .await;
    json(setup.token("alice", json!({})).await, 200).await;
    setup.issuer.rotate();
    let refused = json(setup.token("alice", json!({})).await, 401).await;
    assert_eq!(refused["error"]["code"], "InvalidToken");
    setup.stop().await;
}

#[tokio::test]
async fn the_issuer_unreachable_at_first_is_503_not_401() {
    // A port nothing listens on: bind one, then free it.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let setup = Setup::edited(|_, text| {
        text.replace(
            "jwks_refresh_seconds = 10",
            &format!("jwks_refresh_seconds = 10\njwks_uri = \"http://{free}/keys\""),
        )
    })
    .await;
    let response = setup.token("alice", json!({})).await;
    assert!(response.headers().contains_key("retry-after"));
    let body = json(response, 503).await;
    assert_eq!(body["error"]["code"], "IssuerUnavailable");
    let ready = setup
        .http
        .get(format!("{}/readyz", setup.url))
        .send()
        .await
        .unwrap();
    let ready = json(ready, 503).await;
    assert_eq!(ready["issuer"], "unavailable", "{ready}");
    assert!(setup.emulator.identities().is_empty());
    setup.stop().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_user() {
    let setup = Setup::new("", "rate_limit_per_minute = 2\ncache = false").await;
    json(setup.token("alice", json!({})).await, 200).await;
    json(setup.token("alice", json!({})).await, 200).await;
    let limited = setup.token("alice", json!({})).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = json(limited, 429).await;
    assert_eq!(body["error"]["code"], "TooManyRequests");
    json(setup.token("bob", json!({})).await, 200).await;
    assert_eq!(setup.emulator.stats().tokens_issued, 3);
    setup.stop().await;
}

#[tokio::test]
async fn the_cache_answers_a_fresh_token_and_revoke_ends_it() {
    let setup = Setup::new("", "cache = true").await;
    let first = json(
        setup
            .token("alice", json!({"scopes": ["chat", "voip"]}))
            .await,
        200,
    )
    .await;
    let second = json(
        setup
            .token("alice", json!({"scopes": ["voip", "chat"]}))
            .await,
        200,
    )
    .await;
    assert_eq!(first["token"], second["token"], "from the cache");
    assert_eq!(setup.emulator.stats().tokens_issued, 1);
    let other_scopes = json(setup.token("alice", json!({"scopes": ["chat"]})).await, 200).await;
    assert_ne!(other_scopes["token"], first["token"]);
    let metrics = setup.service.metrics();
    assert!(
        metrics.contains("tokens_issued_total{source=\"cache\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tokens_issued_total{source=\"minted\"} 2"),
        "{metrics}"
    );

    let revoked = setup
        .post("/token/revoke", Some(&setup.sign_in("alice")))
        .await;
    assert_eq!(revoked.status(), 204);
    assert!(
        !setup
            .emulator
            .is_token_valid(first["token"].as_str().unwrap())
    );
    let fresh = json(
        setup
            .token("alice", json!({"scopes": ["chat", "voip"]}))
            .await,
        200,
    )
    .await;
    assert_ne!(
        fresh["token"], first["token"],
        "the cache forgot the revoked token"
    );
    assert!(
        setup
            .emulator
            .is_token_valid(fresh["token"].as_str().unwrap())
    );
    // Revoking for a user the service never saw is a no-op.
    let nobody = setup
        .post("/token/revoke", Some(&setup.sign_in("nobody")))
        .await;
    assert_eq!(nobody.status(), 204);
    setup.stop().await;
}

#[tokio::test]
async fn an_identity_deleted_in_acs_is_mapped_again() {
    let setup = Setup::new("", "cache = false").await;
    let first = json(setup.token("alice", json!({})).await, 200).await;
    let client = acs_identity::CommunicationIdentityClient::from_connection_string(
        &setup.emulator.connection_string(),
    )
    .unwrap();
    let user =
        acs_identity::CommunicationUserIdentifier::new(first["userId"].as_str().unwrap()).unwrap();
    client.delete_user(&user).await.unwrap();
    let second = json(setup.token("alice", json!({})).await, 200).await;
    assert_ne!(second["userId"], first["userId"]);
    assert!(
        setup
            .emulator
            .is_token_valid(second["token"].as_str().unwrap())
    );
    setup.stop().await;
}

#[tokio::test]
async fn with_the_preview_api_the_custom_id_holds_the_mapping() {
    let setup = Setup::new("api_version = \"preview\"", "cache = false").await;
    let first = json(setup.token("alice@contoso.com", json!({})).await, 200).await;
    let again = json(setup.token("alice@contoso.com", json!({})).await, 200).await;
    assert_eq!(first["userId"], again["userId"]);
    let identities = setup.emulator.identities();
    assert_eq!(identities.len(), 1);
    assert_eq!(
        identities[0].custom_id.as_deref(),
        Some("alice@contoso.com")
    );
    let revoked = setup
        .post("/token/revoke", Some(&setup.sign_in("alice@contoso.com")))
        .await;
    assert_eq!(revoked.status(), 204);
    assert!(
        !setup
            .emulator
            .is_token_valid(again["token"].as_str().unwrap())
    );
    setup.stop().await;
}

#[tokio::test]
async fn cors_lets_configured_origins_preflight_and_no_others() {
    let setup = Setup::new("", "").await;
    // No origins configured: no CORS headers at all.
    let preflight = |origin: &'static str, url: String| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{url}/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let none = preflight("https://app.example.com", setup.url.clone())
        .await
        .unwrap();
    assert!(!none.headers().contains_key("access-control-allow-origin"));
    setup.stop().await;

    let setup = Setup::edited(|_, text| {
        format!("{text}\n[cors]\nallowed_origins = [\"https://app.example.com\"]\n")
    })
    .await;
    let allowed = preflight("https://app.example.com", setup.url.clone())
        .await
        .unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(
        allowed.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let other = preflight("https://evil.example", setup.url.clone())
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // The actual request carries the header too.
    let answer = setup
        .http
        .post(format!("{}/token", setup.url))
        .header("origin", "https://app.example.com")
        .bearer_auth(setup.sign_in("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    setup.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let setup = Setup::new("", "").await;
    let health = setup
        .http
        .get(format!("{}/healthz", setup.url))
        .send()
        .await
        .unwrap();
    assert_eq!(json(health, 200).await["status"], "ok");
    let ready = setup
        .http
        .get(format!("{}/readyz", setup.url))
        .send()
        .await
        .unwrap();
    let ready = json(ready, 200).await;
    assert_eq!(
        ready,
        json!({"status": "ready", "store": "ok", "issuer": "ok", "acs": "ok"})
    );
    json(setup.token("alice", json!({})).await, 200).await;
    let metrics = setup
        .http
        .get(format!("{}/metrics", setup.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("acs_token_service_identities_created_total 1"),
        "{text}"
    );
    assert!(
        text.contains("acs_token_service_acs_request_duration_seconds_count"),
        "{text}"
    );
    assert!(text.contains("# EOF"), "{text}");
    assert!(!text.contains(&setup.emulator.access_key().to_string()));
    setup.stop().await;

    // A wrong access key: not ready, and the answer says which part.
    let setup =
        Setup::edited(|emulator, text| text.replace(emulator.access_key(), "d3Jvbmcga2V5")).await;
    let ready = setup
        .http
        .get(format!("{}/readyz", setup.url))
        .send()
        .await
        .unwrap();
    let ready = json(ready, 503).await;
    assert_eq!(ready["acs"], "key refused", "{ready}");
    let failed = json(setup.token("alice", json!({})).await, 502).await;
    assert_eq!(failed["error"]["code"], "UpstreamFailed");
    assert!(!failed.to_string().contains("d3Jvbmcga2V5"));
    setup.stop().await;
}

/// `DELETE /user` as `user`.
async fn erase(setup: &Setup, user: &str) -> reqwest::Response {
    setup
        .http
        .delete(format!("{}/user", setup.url))
        .bearer_auth(setup.sign_in(user))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn erasure_deletes_the_callers_identity_and_mapping_and_is_idempotent() {
    for api in ["stable", "preview"] {
        let setup = Setup::new(&format!("api_version = \"{api}\""), "").await;
        let first = json(setup.token("alice", json!({})).await, 200).await;
        json(setup.token("bob", json!({})).await, 200).await;
        assert_eq!(setup.emulator.identities().len(), 2);

        assert_eq!(erase(&setup, "alice").await.status(), 204, "{api}");
        let left = setup.emulator.identities();
        assert_eq!(left.len(), 1, "{api}: only bob's identity is left");
        assert_ne!(left[0].id, first["userId"].as_str().unwrap());
        assert!(
            !setup
                .emulator
                .is_token_valid(first["token"].as_str().unwrap()),
            "{api}: the erased identity's token died with it"
        );
        // Again: nothing left to delete (with the preview api-version the
        // custom id names a fresh identity, which is deleted at once).
        assert_eq!(erase(&setup, "alice").await.status(), 204, "{api}");
        assert_eq!(setup.emulator.identities().len(), 1, "{api}");
        // No sign-in token: nothing erased.
        let anonymous = setup
            .http
            .delete(format!("{}/user", setup.url))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);

        // The next sign-in gets a new identity, not the cached token.
        let next = json(setup.token("alice", json!({})).await, 200).await;
        assert_ne!(next["userId"], first["userId"], "{api}");
        assert!(
            setup
                .emulator
                .is_token_valid(next["token"].as_str().unwrap())
        );
        setup.stop().await;
    }
}

#[tokio::test]
async fn required_scopes_roles_and_clients_refuse_id_and_app_only_tokens() {
    let setup = Setup::edited(|_, text| {
        text.replace(
            "jwks_refresh_seconds = 10",
            "jwks_refresh_seconds = 10\naudiences = [\"api://test-app\"]\n\
             required_scopes = [\"Tokens.Get\"]\nrequired_roles = [\"TokenService.User\"]\n\
             allowed_client_ids = [\"spa-client\", \"daemon\"]",
        )
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = |extra: serde_json::Value| {
        let mut claims = json!({"aud": AUDIENCE, "sub": "alice", "exp": now + 600});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        setup.issuer.token_with(claims)
    };
    let refused = |response: reqwest::Response| async move {
        let body = json(response, 401).await;
        assert_eq!(body["error"]["code"], "InvalidToken");
        body["error"]["message"].as_str().unwrap().to_string()
    };
    // An ID token (no scp, no roles) from an allowed client: refused.
    let id_token = token(json!({"azp": "spa-client"}));
    let message = refused(setup.post("/token", Some(&id_token)).await).await;
    assert!(message.contains("scopes or roles"), "{message}");
    // An app-only token of another client, with a role but not ours.
    let app_only = token(json!({"appid": "other", "idtyp": "app", "roles": ["Other.Role"]}));
    refused(setup.post("/token", Some(&app_only)).await).await;
    // The right scope from a client that is not allowed.
    let foreign = token(json!({"azp": "intruder", "scp": "openid Tokens.Get"}));
    let message = refused(setup.post("/token", Some(&foreign)).await).await;
    assert!(message.contains("client"), "{message}");
    assert!(setup.emulator.identities().is_empty(), "nothing created");

    // A delegated token of the SPA with the scope, for the second audience.
    let delegated =
        token(json!({"azp": "spa-client", "scp": "openid Tokens.Get", "aud": "api://test-app"}));
    json(setup.post("/token", Some(&delegated)).await, 200).await;
    // An app-only token of the daemon with the role (Entra v1: appid).
    let daemon = token(json!({"appid": "daemon", "roles": ["TokenService.User"], "sub": "daemon"}));
    json(setup.post("/token", Some(&daemon)).await, 200).await;
    let metrics = setup.service.metrics();
    assert!(metrics.contains("reason=\"permission\""), "{metrics}");
    assert!(metrics.contains("reason=\"client\""), "{metrics}");
    setup.stop().await;
}

#[tokio::test]
async fn teams_users_exchange_their_entra_token_and_acs_refusals_reach_them() {
    const APP: &str = "00000000-0000-0000-0000-00000000a990";
    const OID: &str = "00000000-0000-0000-0000-0000000000b0";
    // Off unless [teams] is configured.
    let off = Setup::new("", "").await;
    let answer = off
        .http
        .post(format!("{}/token/teams", off.url))
        .json(&json!({"token": "x.y.z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    off.stop().await;

    let setup = Setup::new(&format!("[teams]\nclient_id = {APP:?}"), "").await;
    let teams_token = |scp: &str| {
        setup.emulator.entra_token(json!({
            "aud": "https://auth.msft.communication.azure.com",
            "scp": scp,
            "appid": APP,
            "oid": OID,
            "tid": "00000000-0000-0000-0000-0000000000c0",
        }))
    };
    let exchange = |token: String| {
        setup
            .http
            .post(format!("{}/token/teams", setup.url))
            .json(&json!({ "token": token }))
            .send()
    };
    let ok = json(
        exchange(teams_token("Teams.ManageCalls Teams.ManageChats"))
            .await
            .unwrap(),
        200,
    )
    .await;
    let token = ok["token"].as_str().unwrap();
    assert!(ok["expiresOn"].as_str().is_some());
    let seen = common::validate(&setup.emulator, token).await;
    assert_eq!(seen["valid"], true, "{seen}");
    assert_eq!(seen["userId"], format!("8:orgid:{OID}"), "{seen}");

    // A token without the Teams scopes: ACS's 401 and code reach the caller.
    let refused = json(
        exchange(teams_token("Teams.ManageCalls")).await.unwrap(),
        401,
    )
    .await;
    assert_eq!(refused["error"]["code"], "InvalidAccessToken", "{refused}");
    // Not a token at all: 400 before any call.
    let bad = json(exchange("not a token".into()).await.unwrap(), 400).await;
    assert_eq!(bad["error"]["code"], "InvalidBody");
    setup.stop().await;
}
