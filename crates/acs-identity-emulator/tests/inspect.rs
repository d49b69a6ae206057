//! The emulator as a development tool: its state, the request log with the
//! reason of each refusal, reset, and the inspector page's own protections.

mod common;

use std::time::{Duration, SystemTime};

use acs_identity_emulator::{Emulator, Faults};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn get(e: &Emulator, path: &str) -> Value {
    let resp = reqwest::get(format!("{}_emulator/{path}", e.endpoint()))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    resp.json().await.unwrap()
}

async fn send_control(
    e: &Emulator,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}_emulator/{path}", e.endpoint()))
        .body(body.to_string());
    if let Some(t) = content_type {
        request = request.header("content-type", t);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn identities_show_custom_ids_and_token_and_revocation_times() {
    let e = emulator().await;
    let (_, created) = create(&e, json!({"customId": "alice"}), PREVIEW).await;
    let id = created["identity"]["id"].as_str().unwrap().to_string();
    let listed = get(&e, "identities").await;
    assert_eq!(listed["value"][0]["id"], id.as_str());
    assert_eq!(listed["value"][0]["customId"], "alice");
    assert!(listed["value"][0]["lastTokenIssuedAt"].is_null());
    assert!(listed["value"][0]["revokedAt"].is_null());

    let issue = Req::new(
        Method::POST,
        q(&format!("/identities/{id}/:issueAccessToken"), STABLE),
    )
    .json(json!({"scopes": ["chat"]}))
    .send(&e)
    .await;
    assert_eq!(issue.0, 200);
    let revoke = Req::new(
        Method::POST,
        q(&format!("/identities/{id}/:revokeAccessTokens"), STABLE),
    )
    .send(&e)
    .await;
    assert_eq!(revoke.0, 204);
    let listed = get(&e, "identities").await;
    assert!(
        listed["value"][0]["lastTokenIssuedAt"].is_string(),
        "{listed}"
    );
    assert!(listed["value"][0]["revokedAt"].is_string(), "{listed}");
    let record = &e.identities()[0];
    assert_eq!(record.custom_id.as_deref(), Some("alice"));
    assert!(record.revoked_at.unwrap() >= record.last_token_issued_at.unwrap());
}

#[tokio::test]
async fn assignments_and_groups_are_listed_and_reset_empties_everything() {
    let e = emulator().await;
    let put = Req::new(
        Method::PUT,
        q("/access/teamsExtension/tenants/t1/assignments/o1", PREVIEW),
    )
    .json(json!({"principalType": "user", "clientIds": ["app"]}))
    .send(&e)
    .await;
    assert_eq!(put.0, 201);
    let put = Req::new(Method::PUT, q("/access/entra/assignments/g1", PREVIEW))
        .json(json!({"tenantId": "t1", "principalType": "group", "clientIds": ["app"]}))
        .send(&e)
        .await;
    assert_eq!(put.0, 201);
    e.set_group_members("g1", ["bob", "alice"]);
    create(&e, json!({}), STABLE).await;

    let listed = get(&e, "assignments").await;
    assert_eq!(
        listed["teamsExtension"][0],
        json!({"tenantId": "t1", "objectId": "o1", "principalType": "user", "clientIds": ["app"]})
    );
    assert_eq!(listed["entra"][0]["objectId"], "g1");
    assert_eq!(listed["groups"], json!({"g1": ["alice", "bob"]}));

    // Without a JSON content type (what an HTML form on another site
    // sends), reset is refused and nothing changes.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        assert_eq!(
            send_control(&e, Method::POST, "reset", content_type, "").await,
            415
        );
    }
    assert_eq!(e.identities().len(), 1);
    assert_eq!(
        send_control(
            &e,
            Method::POST,
            "reset",
            Some("application/json; charset=utf-8"),
            ""
        )
        .await,
        204
    );
    assert!(e.identities().is_empty());
    assert_eq!(e.assignments(), Default::default());
    // The emulator still works after a reset.
    assert_eq!(create(&e, json!({}), STABLE).await.0, 201);
}

#[tokio::test]
async fn faults_cannot_be_armed_by_a_cross_site_form() {
    let e = emulator().await;
    let form = send_control(
        &e,
        Method::PUT,
        "faults",
        Some("text/plain"),
        r#"{"faults":"503x1"}"#,
    )
    .await;
    assert_eq!(form, 415);
    assert_eq!(get(&e, "faults").await["faults"], "");
    let json = send_control(
        &e,
        Method::PUT,
        "faults",
        Some("application/json"),
        r#"{"faults":"503x1"}"#,
    )
    .await;
    assert_eq!(json, 200);
    assert_eq!(get(&e, "faults").await["faults"], "503x1");
}

#[tokio::test]
async fn each_refusal_is_logged_with_the_check_and_what_was_computed() {
    let e = emulator().await;
    let path = q("/identities", STABLE);
    let body = br#"{"createTokenWithScopes":["chat"]}"#.to_vec();

    // 1. Signed with another key: the string the emulator signed is the
    //    one the client signed.
    let mut wrong_key = Req::new(Method::POST, path.clone());
    wrong_key.body = body.clone();
    wrong_key.key = STANDARD.encode(b"some other key, not the emulator's");
    let date = httpdate::fmt_http_date(wrong_key.date);
    assert_eq!(wrong_key.send(&e).await.0, 401);
    // 2. A body changed after signing.
    let mut tampered = Req::new(Method::POST, path.clone());
    tampered.body = body.clone();
    tampered.signed_body = Some(b"{}".to_vec());
    assert_eq!(tampered.send(&e).await.0, 401);
    // 3. A date an hour off.
    let mut late = Req::new(Method::POST, path.clone());
    late.date = SystemTime::now() - Duration::from_secs(3600);
    assert_eq!(late.send(&e).await.0, 401);
    // 4. No content hash header.
    let mut bare = Req::new(Method::POST, path.clone());
    bare.omit = vec!["x-ms-content-sha256"];
    assert_eq!(bare.send(&e).await.0, 401);
    // 5. A good one.
    assert_eq!(Req::new(Method::POST, path.clone()).send(&e).await.0, 201);

    let logged = get(&e, "requests").await;
    let records = logged["value"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{logged}");
    for r in records {
        assert_eq!(r["method"], "POST");
        assert_eq!(r["path"], "/identities");
        assert_eq!(r["apiVersion"], STABLE);
        assert_eq!(r["operation"], "create_identity");
    }
    let hash = STANDARD.encode(Sha256::digest(&body));
    let host = e.addr().to_string();
    let first = &records[0]["refusal"];
    assert!(
        first["check"]
            .as_str()
            .unwrap()
            .starts_with("signature mismatch"),
        "{first}"
    );
    assert_eq!(first["contentHash"], hash.as_str());
    assert_eq!(
        first["stringToSign"],
        format!("POST\n{path}\n{date};{host};{hash}").as_str()
    );
    assert_eq!(records[0]["status"], 401);
    assert_eq!(
        records[0]["error"],
        "Unauthorized: The request signature was refused."
    );

    let second = &records[1]["refusal"];
    assert!(
        second["check"]
            .as_str()
            .unwrap()
            .starts_with("content hash mismatch"),
        "{second}"
    );
    assert_eq!(second["contentHash"], hash.as_str());
    assert!(second.get("stringToSign").is_none());
    let third = records[2]["refusal"]["check"].as_str().unwrap();
    assert!(third.starts_with("date skew"), "{third}");
    assert_eq!(
        records[3]["refusal"]["check"],
        "missing header: x-ms-content-sha256"
    );
    assert_eq!(records[4]["status"], 201);
    assert!(records[4]["refusal"].is_null() && records[4]["error"].is_null());
    assert!(records[4]["milliseconds"].as_f64().unwrap() >= 0.0);

    // The key appears nowhere.
    let text = logged.to_string();
    assert!(!text.contains(KEY));
    // `after` and `limit` page through the log; the library sees the same.
    let after = records[3]["id"].as_u64().unwrap();
    let newer = get(&e, &format!("requests?after={after}")).await;
    assert_eq!(newer["value"].as_array().unwrap().len(), 1);
    let last_two = get(&e, "requests?limit=2").await;
    assert_eq!(last_two["value"][1]["status"], 201);
    assert_eq!(e.requests().len(), 5);
    assert_eq!(
        e.requests()[0]
            .refusal
            .as_ref()
            .unwrap()
            .content_hash
            .as_deref(),
        Some(hash.as_str())
    );
}

#[tokio::test]
async fn dropped_connections_and_unknown_paths_are_logged_too() {
    let e = emulator().await;
    e.set_faults("create_identity:dropx1".parse::<Faults>().unwrap());
    let unsigned = reqwest::Client::new()
        .post(format!("{}identities?api-version={STABLE}", e.endpoint()))
        .send()
        .await;
    // Unsigned: refused before faults apply, so nothing is dropped yet.
    assert_eq!(unsigned.unwrap().status().as_u16(), 401);
    // Signed: the fault drops the connection without an answer.
    let dropped = Req::new(Method::POST, q("/identities", STABLE))
        .try_send(&e)
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    let resp = reqwest::Client::new()
        .get(format!("{}nowhere", e.endpoint()))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let records = e.requests();
    assert_eq!(records[0].status, Some(401));
    assert_eq!(records[1].status, None, "dropped");
    assert_eq!(records[1].operation.as_deref(), Some("create_identity"));
    assert_eq!(records[2].path, "/nowhere");
    assert_eq!(records[2].operation, None);
    assert_eq!(
        records[2].error.as_deref(),
        Some("NotFound: No operation at /nowhere.")
    );
    // The polled GET endpoints stay out of the log.
    get(&e, "stats").await;
    assert_eq!(e.requests().len(), 3);
}

#[tokio::test]
async fn the_page_is_served_with_its_files_and_a_strict_policy() {
    let e = emulator().await;
    for (path, kind) in [
        ("", "text/html"),
        ("inspector.js", "text/javascript"),
        ("inspector.css", "text/css"),
    ] {
        let resp = reqwest::get(format!("{}_emulator/{path}", e.endpoint()))
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let headers = resp.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let text = resp.text().await.unwrap();
        assert!(!text.is_empty());
    }
    let page = reqwest::get(format!("{}_emulator", e.endpoint()))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    // No inline script: everything the page runs is in inspector.js.
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && html.contains(r#"src="/_emulator/inspector.js""#));
}
