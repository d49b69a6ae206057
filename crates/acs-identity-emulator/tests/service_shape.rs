//! Closer to the service: how times and content types are written, and the
//! order of the Teams user exchange's checks.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// `2023-10-19T15:34:16.4461396+00:00`: seven fractional digits, `+00:00`.
fn is_service_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 33
        && text.ends_with("+00:00")
        && bytes[19] == b'.'
        && bytes[20..27].iter().all(u8::is_ascii_digit)
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn times_carry_seven_fractional_digits_and_the_offset() {
    let e = emulator().await;
    let (status, created) = create(
        &e,
        json!({"createTokenWithScopes": ["chat"], "customId": "alice"}),
        PREVIEW,
    )
    .await;
    assert_eq!(status, 201);
    let expires = created["accessToken"]["expiresOn"].as_str().unwrap();
    assert!(is_service_time(expires), "{expires}");
    let issued = created["identity"]["lastTokenIssuedAt"].as_str().unwrap();
    assert!(is_service_time(issued), "{issued}");
    // The token's exp is expiresOn rounded down to the second.
    let token = created["accessToken"]["token"].as_str().unwrap();
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert_eq!(payload["exp"].as_i64().unwrap(), expires.timestamp());
}

#[tokio::test]
async fn errors_are_application_json_without_a_charset() {
    let e = emulator().await;
    let (status, headers, _) = Req::new(Method::GET, q("/identities/nobody", PREVIEW))
        .send_full(&e)
        .await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "application/json");
    let (status, headers, _) = Req::new(Method::POST, q("/identities", STABLE))
        .send_full(&e)
        .await;
    assert_eq!(status, 201);
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
}

fn teams_token(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

async fn exchange(
    e: &acs_identity_emulator::Emulator,
    claims: Value,
    app: &str,
    user: &str,
) -> (u16, Value) {
    Req::new(Method::POST, q("/teamsUser/:exchangeAccessToken", STABLE))
        .json(json!({"token": teams_token(claims), "appId": app, "userId": user}))
        .send(e)
        .await
}

#[tokio::test]
async fn the_teams_exchange_checks_audience_and_scopes_first() {
    let e = emulator().await;
    let exp = chrono::Utc::now().timestamp() + 3600;
    let good = json!({
        "aud": "https://auth.msft.communication.azure.com",
        "scp": "Teams.ManageCalls Teams.ManageChats",
        "appid": "app", "oid": "user", "tid": "tenant", "exp": exp
    });
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    let (status, body) = exchange(&e, good.clone(), "app", "user").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string());
    // Full scope names are accepted as well.
    let full = with(
        "scp",
        json!(
            "https://auth.msft.communication.azure.com/Teams.ManageCalls https://auth.msft.communication.azure.com/Teams.ManageChats"
        ),
    );
    assert_eq!(exchange(&e, full, "app", "user").await.0, 200);

    // A token for another resource, or without both scopes, is refused
    // before the app and user ids are compared.
    for claims in [
        with("aud", json!("https://graph.microsoft.com")),
        with(
            "aud",
            json!("https://auth.msft.communication.azure.com.attacker.example"),
        ),
        with("scp", json!("Teams.ManageCalls")),
        with("scp", json!("User.Read")),
        with("exp", json!(exp - 7200)),
    ] {
        let answer = exchange(&e, claims.clone(), "other-app", "other-user").await;
        assert_error(&answer, 401, "InvalidAccessToken");
        assert_eq!(
            answer.1["error"]["message"],
            "Provided access token is not valid."
        );
    }
    let mut no_audience = good.clone();
    no_audience.as_object_mut().unwrap().remove("aud");
    assert_error(
        &exchange(&e, no_audience, "app", "user").await,
        401,
        "InvalidAccessToken",
    );

    // Then the application, then the user.
    let answer = exchange(&e, good.clone(), "other-app", "other-user").await;
    assert_error(&answer, 400, "ValidationError");
    assert_eq!(answer.1["error"]["target"], "appId");
    let answer = exchange(&e, good, "app", "other-user").await;
    assert_error(&answer, 400, "ValidationError");
    assert_eq!(answer.1["error"]["target"], "userId");
}
