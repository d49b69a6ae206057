//! The service contract, with hand-built requests over raw reqwest (not the
//! acs-identity client): statuses, error bodies, signature checks, versions,
//! limits, concurrency, persistence and faults.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use acs_identity_emulator::{Emulator, Faults};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{KEY, PREVIEW, Req, STABLE, assert_error, create, emulator, q};

#[tokio::test]
async fn signed_requests_work_and_every_tampering_is_refused_and_counted() {
    let e = emulator().await;
    let body = json!({"createTokenWithScopes": ["chat"]});
    assert_eq!(create(&e, body.clone(), STABLE).await.0, 201);

    let tampered = |r: Req| r.json(body.clone());
    let cases: Vec<(&str, Req)> = vec![
        ("tampered body", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.signed_body = Some(b"{}".to_vec());
            r
        }),
        ("wrong host", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.signed_host = Some("evil.example".into());
            r
        }),
        ("stale date", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.date = SystemTime::now() - Duration::from_secs(16 * 60);
            r
        }),
        ("future date", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.date = SystemTime::now() + Duration::from_secs(16 * 60);
            r
        }),
        ("wrong key", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.key = "b3RoZXIta2V5".into();
            r
        }),
        ("missing x-ms-date", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.omit = vec!["x-ms-date"];
            r
        }),
        ("missing content hash", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.omit = vec!["x-ms-content-sha256"];
            r
        }),
        ("missing authorization", {
            let mut r = tampered(Req::new(Method::POST, q("/identities", STABLE)));
            r.omit = vec!["authorization"];
            r
        }),
    ];
    let before = e.stats().unauthorized;
    let n = cases.len() as u64;
    for (what, req) in cases {
        let answer = req.send(&e).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.1);
        assert!(answer.1["error"]["code"].is_string(), "{what}");
    }
    assert_eq!(
        e.stats().unauthorized - before,
        n,
        "every refusal is counted"
    );
}

#[tokio::test]
async fn a_signature_reused_on_another_path_is_refused() {
    let e = emulator().await;
    let (_, user) = create(&e, json!({}), STABLE).await;
    let id = user["identity"]["id"].as_str().unwrap();
    // Sign a revoke of one path, send it to another.
    let mut r = Req::new(
        Method::POST,
        format!("/identities/{id}/:revokeAccessTokens?api-version={STABLE}"),
    );
    r.path_and_query = format!("/identities/{id}/:revokeAccessTokens?api-version={STABLE}");
    let host = e.addr().to_string();
    let date = httpdate::fmt_http_date(SystemTime::now());
    let hash = STANDARD.encode(Sha256::digest(b""));
    let mut mac = Hmac::<Sha256>::new_from_slice(&STANDARD.decode(KEY).unwrap()).unwrap();
    mac.update(
        format!(
            "POST\n/identities/other/:revokeAccessTokens?api-version={STABLE}\n{date};{host};{hash}"
        )
        .as_bytes(),
    );
    let auth = format!(
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={}",
        STANDARD.encode(mac.finalize().into_bytes())
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{host}{}", r.path_and_query))
        .header("x-ms-date", date)
        .header("x-ms-content-sha256", hash)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    r.method = Method::POST;
    assert_eq!(
        r.send(&e).await.0,
        204,
        "the same request signed for its own path works"
    );
}

#[tokio::test]
async fn ids_work_with_colons_escaped_or_literal() {
    let e = emulator().await;
    let (_, created) = create(&e, json!({}), STABLE).await;
    let id = created["identity"]["id"].as_str().unwrap().to_string();
    let escaped = id.replace(':', "%3A");
    let body = json!({"scopes": ["voip"]});
    for form in [&id, &escaped] {
        let answer = Req::new(
            Method::POST,
            q(&format!("/identities/{form}/:issueAccessToken"), STABLE),
        )
        .json(body.clone())
        .send(&e)
        .await;
        assert_eq!(answer.0, 200, "{form}: {}", answer.1);
    }
    assert_eq!(
        Req::new(Method::DELETE, q(&format!("/identities/{escaped}"), STABLE))
            .send(&e)
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn token_lifetimes_scopes_and_expiry() {
    let e = emulator().await;
    let (_, created) = create(
        &e,
        json!({"createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60}),
        STABLE,
    )
    .await;
    let token = created["accessToken"]["token"].as_str().unwrap();
    let expires: chrono::DateTime<chrono::Utc> = created["accessToken"]["expiresOn"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        payload["exp"].as_i64().unwrap(),
        expires.timestamp(),
        "exp equals expiresOn"
    );
    assert_eq!(payload["sub"], created["identity"]["id"]);
    assert_eq!(payload["scopes"], json!(["chat", "voip"]));

    for minutes in [59, 1441] {
        let answer = create(
            &e,
            json!({"createTokenWithScopes": ["chat"], "expiresInMinutes": minutes}),
            STABLE,
        )
        .await;
        assert_error(&answer, 400, "ValidationError");
        assert_eq!(answer.1["error"]["target"], "ExpiresInMinutes");
    }
    let answer = create(&e, json!({"createTokenWithScopes": ["pstn"]}), STABLE).await;
    assert_error(&answer, 400, "ValidationError");
    let id = created["identity"]["id"].as_str().unwrap();
    let answer = Req::new(
        Method::POST,
        q(&format!("/identities/{id}/:issueAccessToken"), STABLE),
    )
    .json(json!({"scopes": []}))
    .send(&e)
    .await;
    assert_error(&answer, 400, "ValidationError");
}

#[tokio::test]
async fn api_versions_are_enforced() {
    let e = emulator().await;
    assert_error(
        &Req::new(Method::POST, "/identities")
            .json(json!({}))
            .send(&e)
            .await,
        400,
        "MissingApiVersionParameter",
    );
    assert_error(
        &create(&e, json!({}), "2019-01-01").await,
        400,
        "UnsupportedApiVersion",
    );
    let (_, created) = create(&e, json!({}), PREVIEW).await;
    let id = created["identity"]["id"].as_str().unwrap();
    assert_eq!(
        Req::new(Method::GET, q(&format!("/identities/{id}"), PREVIEW))
            .send(&e)
            .await
            .0,
        200
    );
    assert_error(
        &Req::new(Method::GET, q(&format!("/identities/{id}"), STABLE))
            .send(&e)
            .await,
        400,
        "UnsupportedApiVersion",
    );
    assert_error(
        &Req::new(Method::GET, q("/access/entra/assignments", "2026-09-23"))
            .send(&e)
            .await,
        400,
        "UnsupportedApiVersion",
    );
    for version in [
        "2021-03-07",
        "2022-06-01",
        "2022-10-01",
        "2023-10-01",
        "2025-06-30",
        "2026-09-23",
        PREVIEW,
    ] {
        assert_eq!(
            create(&e, json!({"createTokenWithScopes": ["voip"]}), version)
                .await
                .0,
            201,
            "{version}"
        );
    }
    // customId is a preview field: ignored under stable versions.
    let (_, stable) = create(&e, json!({"customId": "x"}), STABLE).await;
    assert!(stable["identity"].get("customId").is_none());
}

#[tokio::test]
async fn bodies_paths_and_methods() {
    let e = emulator().await;
    let mut big = Req::new(Method::POST, q("/identities", STABLE));
    big.body = vec![b' '; 64 * 1024 + 1];
    assert_error(&big.send(&e).await, 413, "RequestEntityTooLarge");
    let mut bad = Req::new(Method::POST, q("/identities", STABLE));
    bad.body = b"{not json".to_vec();
    assert_error(&bad.send(&e).await, 400, "BadRequest");
    assert_error(
        &Req::new(Method::GET, q("/nowhere", STABLE)).send(&e).await,
        404,
        "NotFound",
    );
    assert_error(
        &Req::new(Method::PUT, q("/identities", STABLE))
            .send(&e)
            .await,
        405,
        "MethodNotAllowed",
    );
    // An empty body is a valid create (the body is optional).
    assert_eq!(
        Req::new(Method::POST, q("/identities", STABLE))
            .send(&e)
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn deleted_users_answer_404_and_their_tokens_are_invalid() {
    let e = emulator().await;
    let (_, created) = create(&e, json!({"createTokenWithScopes": ["chat"]}), PREVIEW).await;
    let id = created["identity"]["id"].as_str().unwrap();
    let token = created["accessToken"]["token"].as_str().unwrap();
    assert!(e.is_token_valid(token));
    assert_eq!(
        Req::new(Method::DELETE, q(&format!("/identities/{id}"), PREVIEW))
            .send(&e)
            .await
            .0,
        204
    );
    assert!(!e.is_token_valid(token));
    for req in [
        Req::new(Method::GET, q(&format!("/identities/{id}"), PREVIEW)),
        Req::new(Method::DELETE, q(&format!("/identities/{id}"), PREVIEW)),
        Req::new(
            Method::POST,
            q(&format!("/identities/{id}/:revokeAccessTokens"), PREVIEW),
        ),
        Req::new(
            Method::POST,
            q(&format!("/identities/{id}/:issueAccessToken"), PREVIEW),
        )
        .json(json!({"scopes": ["chat"]})),
    ] {
        assert_error(&req.send(&e).await, 404, "IdentityNotFound");
    }
    // The emulator-only validation endpoint says why.
    let resp = reqwest::Client::new()
        .post(format!("{}_emulator/validate-token", e.endpoint()))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["valid"].as_bool(), v["reason"].as_str()),
        (Some(false), Some("userDeleted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_creates_with_one_custom_id_make_one_identity() {
    let e = Arc::new(emulator().await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let e = Arc::clone(&e);
        tasks.spawn(async move { create(&e, json!({"customId": "shared"}), PREVIEW).await });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(answer) = tasks.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 201);
        ids.insert(body["identity"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn faults_answer_authenticated_requests_and_can_change_at_run_time() {
    let e = emulator().await;
    e.set_faults(
        "create_identity:503/retry-after-ms=250x2"
            .parse::<Faults>()
            .unwrap(),
    );
    for _ in 0..2 {
        let resp = reqwest::Client::new()
            .post(format!("{}identities?api-version={STABLE}", e.endpoint()))
            .bearer_auth(e.management_token())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 503);
        assert_eq!(resp.headers()["retry-after-ms"], "250");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "ServiceUnavailable");
    }
    assert_eq!(
        create(&e, json!({}), STABLE).await.0,
        201,
        "two faults, then normal service"
    );

    e.set_faults("dropx1".parse::<Faults>().unwrap());
    let dropped = reqwest::Client::new()
        .post(format!("{}identities?api-version={STABLE}", e.endpoint()))
        .bearer_auth(e.management_token())
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection was closed without an answer"
    );
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201);
    assert_eq!(e.stats().faults, 3);

    // And through the emulator-only endpoint.
    let put = reqwest::Client::new()
        .put(format!("{}_emulator/faults", e.endpoint()))
        .json(&json!({"faults": "429x1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(create(&e, json!({}), STABLE).await.0, 429);
    let bad = reqwest::Client::new()
        .put(format!("{}_emulator/faults", e.endpoint()))
        .json(&json!({"faults": "200x1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn entra_list_pages_with_next_link() {
    let e = Emulator::builder()
        .access_key(KEY)
        .page_size(2)
        .start()
        .await
        .unwrap();
    let changes: serde_json::Map<String, Value> = (0..5)
        .map(|i| {
            (
                format!("o{i}"),
                json!({"tenantId": "t", "principalType": "user", "clientIds": ["c"]}),
            )
        })
        .collect();
    let answer = Req::new(Method::PATCH, q("/access/entra/assignments", PREVIEW))
        .json(Value::Object(changes))
        .send(&e)
        .await;
    assert_eq!(answer.0, 200);
    let mut next = Some(q("/access/entra/assignments", PREVIEW));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages <= 5, "bounded");
        let (status, page) = Req::new(Method::GET, path).send(&e).await;
        assert_eq!(status, 200);
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["objectId"].as_str().unwrap().to_string()),
        );
        next = page["nextLink"]
            .as_str()
            .map(|link| link.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap());
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["o0", "o1", "o2", "o3", "o4"]);
}
