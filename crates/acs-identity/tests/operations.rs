//! Every operation of the stable and preview clients on the wire: method,
//! path, query, headers, signature and body of the request, and the value
//! made of the answer; then how error answers and refused arguments map.

mod common;

use std::time::Duration;

use acs_identity::{
    AccessToken, BoxFuture, CommunicationIdentityClient, CommunicationUserAndToken,
    CommunicationUserIdentifier, EntraAssignment, EntraAssignmentSpec, EntraPrincipalType, Error,
    GetTokenForTeamsUserOptions, TeamsExtensionAssignment, TeamsExtensionPrincipalType, TokenScope,
};
use chrono::{DateTime, Utc};
use common::*;
use futures_util::TryStreamExt as _;
use httpmock::MockServer;
use serde_json::{Value, json};

fn date(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 date")
        .with_timezone(&Utc)
}

fn user_path(suffix: &str) -> String {
    format!("/identities/{USER_ID}{suffix}")
}

fn teams_assignment_path() -> String {
    format!("/access/teamsExtension/tenants/{TENANT_ID}/assignments/{OBJECT_ID}")
}

fn entra_assignment_json(object_id: &str) -> Value {
    json!({
        "objectId": object_id,
        "tenantId": TENANT_ID,
        "principalType": "user",
        "clientIds": [CLIENT_ID],
    })
}

const ALL_SCOPES: [&str; 5] = [
    "chat",
    "voip",
    "chat.join",
    "chat.join.limited",
    "voip.join",
];

// ---------------------------------------------------------------------------
// The verifier itself
// ---------------------------------------------------------------------------

#[test]
fn verifier_reproduces_the_worked_examples_of_the_scheme() {
    let key = b"0123456789abcdef0123456789abcdef";
    assert_eq!(
        expected_authorization(
            key,
            "POST",
            "/identities?api-version=2023-10-01",
            "Mon, 01 Jan 2024 00:00:00 GMT",
            "contoso.communication.azure.com",
            br#"{"createTokenWithScopes":["chat"]}"#,
        ),
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=eRKgag+BCIlClZsADk7sR7AuJyQYIYtvc1kV6GYrGK8="
    );
    assert!(
        expected_authorization(
            key,
            "post",
            "/identities/8%3Aacs%3Aabc_def/:issueAccessToken?api-version=2023-10-01",
            "Mon, 01 Jan 2024 00:00:00 GMT",
            "localhost:8443",
            br#"{"scopes":["voip"],"expiresInMinutes":60}"#,
        )
        .ends_with("&Signature=czCzGC4p9mNXUvC/Gkwm7FlWGWH4bpbM4KkQ/1mM/FY=")
    );
}

#[tokio::test]
async fn a_mock_verifying_another_key_does_not_match_a_signed_request() {
    let server = MockServer::start_async().await;
    let wrong_key = server
        .mock_async(|when, then| {
            when.is_true(
                expect("DELETE", &user_path(""), STABLE)
                    .key(b"some other key")
                    .matcher(),
            );
            then.status(204);
        })
        .await;
    let right_key = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &user_path(""), STABLE).matcher());
            then.status(204);
        })
        .await;
    bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap();
    wrong_key.assert_calls_async(0).await;
    right_key.assert_calls_async(1).await;
}

// ---------------------------------------------------------------------------
// Every operation: one row each
// ---------------------------------------------------------------------------

/// What a row's call gets: the stable and preview clients of the mock
/// server, and a builder for a client of its own.
struct Clients {
    stable: CommunicationIdentityClient,
    preview: acs_identity::preview::CommunicationIdentityClient,
    builder: acs_identity::ClientBuilder,
}

/// Calls one operation and describes its answer as JSON.
type Call = fn(Clients) -> BoxFuture<'static, Result<Value, Error>>;

/// One operation on the wire: the request it must send (method, path,
/// api-version, signature or bearer, body), the answer the mock gives, and
/// what the client makes of it.
struct Row {
    name: &'static str,
    request: Expect,
    status: u16,
    reply: Option<Value>,
    call: Call,
    answer: Value,
}

fn user_json(user: &CommunicationUserIdentifier) -> Value {
    json!({ "user": user.id() })
}

fn token_json(token: &AccessToken) -> Value {
    json!({ "token": token.token(), "expiresOn": token.expires_on().to_rfc3339() })
}

fn user_and_token_json(created: &CommunicationUserAndToken) -> Value {
    json!({
        "user": created.user.id(),
        "token": created.access_token.token(),
        "expiresOn": created.access_token.expires_on().to_rfc3339(),
    })
}

fn teams_assignment_answer(a: &TeamsExtensionAssignment) -> Value {
    json!({
        "objectId": a.object_id,
        "tenantId": a.tenant_id,
        "principalType": format!("{:?}", a.principal_type),
        "clientIds": a.client_ids,
    })
}

fn entra_assignment_answer(a: &EntraAssignment) -> Value {
    json!({
        "objectId": a.object_id,
        "tenantId": a.tenant_id,
        "principalType": format!("{:?}", a.principal_type),
        "clientIds": a.client_ids,
    })
}

/// The answer `user_and_token_body(id)` is read as.
fn user_and_token_answer(id: &str) -> Value {
    json!({ "user": id, "token": ACS_TOKEN, "expiresOn": date(EXPIRES_ON).to_rfc3339() })
}

fn token_answer() -> Value {
    json!({ "token": ACS_TOKEN, "expiresOn": date(EXPIRES_ON).to_rfc3339() })
}

fn teams_user_options() -> GetTokenForTeamsUserOptions {
    GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID)
}

/// The identity a Teams Phone extension user's exchange answers with.
fn extension_user() -> String {
    format!("8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_{TENANT_ID}_{OBJECT_ID}")
}

/// The identity an Entra user's exchange answers with.
fn entra_user() -> String {
    format!("8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_wf_{TENANT_ID}_{OBJECT_ID}")
}

const LAST_ISSUED: &str = "2025-02-10T21:39:39.3244584+00:00";

/// Every operation of both clients, each as it goes on the wire.
fn operations() -> Vec<Row> {
    let entra_path = format!("/access/entra/assignments/{OBJECT_ID}");
    let mut group_assignment = entra_assignment_json(OBJECT_ID);
    group_assignment["principalType"] = json!("group");
    let group_spec =
        json!({ "tenantId": TENANT_ID, "principalType": "group", "clientIds": [CLIENT_ID] });
    let group_answer = json!({
        "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "Group", "clientIds": [CLIENT_ID],
    });
    let mut preview_created = user_and_token_body(USER_ID);
    preview_created["identity"]["customId"] = json!("sally@contoso.com");
    preview_created["identity"]["lastTokenIssuedAt"] = json!(LAST_ISSUED);
    vec![
        // Stable client.
        Row {
            name: "create_user posts an empty object and returns the new user",
            request: expect("POST", "/identities", STABLE).json(json!({})),
            status: 201,
            reply: Some(json!({ "identity": { "id": USER_ID } })),
            call: |c| Box::pin(async move { Ok(user_json(&c.stable.create_user().await?)) }),
            answer: json!({ "user": USER_ID }),
        },
        Row {
            name: "create_user_and_token sends scopes and minutes and returns both",
            request: expect("POST", "/identities", STABLE)
                .json(json!({ "createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60 })),
            status: 201,
            reply: Some(user_and_token_body(USER_ID)),
            call: |c| {
                Box::pin(async move {
                    let created = c
                        .stable
                        .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
                        .expires_in(Duration::from_secs(60 * 60))
                        .await?;
                    Ok(user_and_token_json(&created))
                })
            },
            answer: user_and_token_answer(USER_ID),
        },
        Row {
            name: "create_user_and_token without a lifetime leaves the minutes to the service",
            request: expect("POST", "/identities", STABLE)
                .json(json!({ "createTokenWithScopes": ALL_SCOPES })),
            status: 201,
            reply: Some(user_and_token_body(USER_ID)),
            call: |c| {
                Box::pin(async move {
                    let created = c.stable.create_user_and_token(TokenScope::KNOWN).await?;
                    Ok(user_and_token_json(&created))
                })
            },
            answer: user_and_token_answer(USER_ID),
        },
        Row {
            name: "get_token posts scopes and minutes to issueAccessToken",
            request: expect("POST", &user_path("/:issueAccessToken"), STABLE)
                .json(json!({ "scopes": ALL_SCOPES, "expiresInMinutes": 90 })),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c
                        .stable
                        .get_token(&user(), TokenScope::KNOWN)
                        .expires_in(Duration::from_secs(90 * 60))
                        .await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "get_token without a lifetime sends the scopes only",
            request: expect("POST", &user_path("/:issueAccessToken"), STABLE)
                .json(json!({ "scopes": ["voip.join"] })),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c.stable.get_token(&user(), [TokenScope::VoipJoin]).await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "get_token sends the shortest lifetime as 60 minutes",
            request: expect("POST", &user_path("/:issueAccessToken"), STABLE)
                .json(json!({ "scopes": ["chat"], "expiresInMinutes": 60 })),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c
                        .stable
                        .get_token(&user(), [TokenScope::Chat])
                        .expires_in(acs_identity::MIN_TOKEN_LIFETIME)
                        .await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "get_token sends the longest lifetime as 1440 minutes",
            request: expect("POST", &user_path("/:issueAccessToken"), STABLE)
                .json(json!({ "scopes": ["chat"], "expiresInMinutes": 1440 })),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c
                        .stable
                        .get_token(&user(), [TokenScope::Chat])
                        .expires_in(acs_identity::MAX_TOKEN_LIFETIME)
                        .await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "revoke_tokens posts without a body and accepts 204",
            request: expect("POST", &user_path("/:revokeAccessTokens"), STABLE),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move { c.stable.revoke_tokens(&user()).await.map(|()| Value::Null) })
            },
            answer: Value::Null,
        },
        Row {
            name: "delete_user sends DELETE and accepts 204",
            request: expect("DELETE", &user_path(""), STABLE),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move { c.stable.delete_user(&user()).await.map(|()| Value::Null) })
            },
            answer: Value::Null,
        },
        Row {
            name: "get_token_for_teams_user sends the token, app and user, signed",
            request: expect("POST", "/teamsUser/:exchangeAccessToken", STABLE).json(
                json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }),
            ),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c
                        .stable
                        .get_token_for_teams_user(&teams_user_options())
                        .await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "get_teams_extension_assignment reads the assignment",
            request: expect("GET", &teams_assignment_path(), STABLE),
            status: 200,
            reply: Some(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "resourceAccount",
                "clientIds": [CLIENT_ID],
            })),
            call: |c| {
                Box::pin(async move {
                    let a = c
                        .stable
                        .get_teams_extension_assignment(TENANT_ID, OBJECT_ID)
                        .await?;
                    Ok(teams_assignment_answer(&a))
                })
            },
            answer: json!({
                "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "ResourceAccount", "clientIds": [CLIENT_ID],
            }),
        },
        Row {
            name: "upsert_teams_extension_assignment reports 201 as created",
            request: expect("PUT", &teams_assignment_path(), STABLE)
                .json(json!({ "principalType": "resourceAccount", "clientIds": [CLIENT_ID] })),
            status: 201,
            reply: Some(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "resourceAccount",
                "clientIds": [CLIENT_ID],
            })),
            call: |c| {
                Box::pin(async move {
                    let upserted = c
                        .stable
                        .upsert_teams_extension_assignment(
                            TENANT_ID,
                            OBJECT_ID,
                            TeamsExtensionPrincipalType::ResourceAccount,
                            [CLIENT_ID],
                        )
                        .await?;
                    Ok(
                        json!({ "created": upserted.created, "value": teams_assignment_answer(&upserted.value) }),
                    )
                })
            },
            answer: json!({ "created": true, "value": {
                "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "ResourceAccount", "clientIds": [CLIENT_ID],
            }}),
        },
        Row {
            name: "upsert_teams_extension_assignment reports 200 as replaced",
            request: expect("PUT", &teams_assignment_path(), STABLE)
                .json(json!({ "principalType": "user" })),
            status: 200,
            reply: Some(
                json!({ "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "user" }),
            ),
            call: |c| {
                Box::pin(async move {
                    let upserted = c
                        .stable
                        .upsert_teams_extension_assignment(
                            TENANT_ID,
                            OBJECT_ID,
                            TeamsExtensionPrincipalType::User,
                            Vec::<String>::new(),
                        )
                        .await?;
                    Ok(
                        json!({ "created": upserted.created, "value": teams_assignment_answer(&upserted.value) }),
                    )
                })
            },
            answer: json!({ "created": false, "value": {
                "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "User", "clientIds": [],
            }}),
        },
        Row {
            name: "delete_teams_extension_assignment sends DELETE and accepts 204",
            request: expect("DELETE", &teams_assignment_path(), STABLE),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move {
                    c.stable
                        .delete_teams_extension_assignment(TENANT_ID, OBJECT_ID)
                        .await
                        .map(|()| Value::Null)
                })
            },
            answer: Value::Null,
        },
        Row {
            name: "exchange_teams_extension_token sends the user's token as bearer with an empty object",
            request: expect(
                "POST",
                "/access/teamsExtension/:exchangeAccessToken",
                STABLE,
            )
            .json(json!({}))
            .bearer(ENTRA_USER_TOKEN),
            status: 200,
            reply: Some(user_and_token_body(&extension_user())),
            call: |c| {
                Box::pin(async move {
                    let exchanged = c
                        .stable
                        .exchange_teams_extension_token(ENTRA_USER_TOKEN)
                        .await?;
                    Ok(user_and_token_json(&exchanged))
                })
            },
            answer: user_and_token_answer(&extension_user()),
        },
        Row {
            name: "a client pinned to 2023-10-01 sends that version",
            request: expect("POST", &user_path("/:issueAccessToken"), "2023-10-01")
                .json(json!({ "scopes": ["chat"] })),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let client = c.builder.api_version("2023-10-01").build()?;
                    let token = client.get_token(&user(), [TokenScope::Chat]).await?;
                    Ok(json!({ "apiVersion": client.api_version(), "token": token_json(&token) }))
                })
            },
            answer: json!({ "apiVersion": "2023-10-01", "token": token_answer() }),
        },
        Row {
            name: "the application id comes first in the user agent",
            request: expect("DELETE", &user_path(""), STABLE)
                .user_agent_prefix("token-svc azsdk-rust-communication-identity/"),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move {
                    let client = c.builder.application_id("token-svc").build()?;
                    client.delete_user(&user()).await.map(|()| Value::Null)
                })
            },
            answer: Value::Null,
        },
        // Preview client.
        Row {
            name: "preview create_user sends a custom id",
            request: expect("POST", "/identities", PREVIEW)
                .json(json!({ "customId": "sally@contoso.com" })),
            status: 201,
            reply: Some(json!({ "identity": { "id": USER_ID, "customId": "sally@contoso.com" } })),
            call: |c| {
                Box::pin(async move {
                    let user = c
                        .preview
                        .create_user()
                        .custom_id("sally@contoso.com")
                        .await?;
                    Ok(user_json(&user))
                })
            },
            answer: json!({ "user": USER_ID }),
        },
        Row {
            name: "preview create_user without a custom id posts an empty object",
            request: expect("POST", "/identities", PREVIEW).json(json!({})),
            status: 201,
            reply: Some(json!({ "identity": { "id": USER_ID } })),
            call: |c| Box::pin(async move { Ok(user_json(&c.preview.create_user().await?)) }),
            answer: json!({ "user": USER_ID }),
        },
        Row {
            name: "preview create_user_and_token sends the custom id, scopes and minutes",
            request: expect("POST", "/identities", PREVIEW).json(json!({
                "customId": "sally@contoso.com",
                "createTokenWithScopes": ALL_SCOPES,
                "expiresInMinutes": 60,
            })),
            status: 201,
            reply: Some(preview_created),
            call: |c| {
                Box::pin(async move {
                    let created = c
                        .preview
                        .create_user_and_token(TokenScope::KNOWN)
                        .expires_in(Duration::from_secs(3600))
                        .custom_id("sally@contoso.com")
                        .await?;
                    Ok(user_and_token_json(&created))
                })
            },
            answer: user_and_token_answer(USER_ID),
        },
        Row {
            name: "preview get_user reads the custom id and the last token time",
            request: expect("GET", &user_path(""), PREVIEW),
            status: 200,
            reply: Some(json!({
                "id": USER_ID,
                "customId": "sally@contoso.com",
                "lastTokenIssuedAt": LAST_ISSUED,
            })),
            call: |c| {
                Box::pin(async move { Ok(user_detail_json(&c.preview.get_user(&user()).await?)) })
            },
            answer: json!({
                "user": USER_ID,
                "customId": "sally@contoso.com",
                "lastTokenIssuedAt": date(LAST_ISSUED).to_rfc3339(),
            }),
        },
        Row {
            name: "preview get_user without the optional fields reads none",
            request: expect("GET", &user_path(""), PREVIEW),
            status: 200,
            reply: Some(json!({ "id": USER_ID })),
            call: |c| {
                Box::pin(async move { Ok(user_detail_json(&c.preview.get_user(&user()).await?)) })
            },
            answer: json!({ "user": USER_ID, "customId": null, "lastTokenIssuedAt": null }),
        },
        Row {
            name: "preview revoke_tokens sends the preview version",
            request: expect("POST", &user_path("/:revokeAccessTokens"), PREVIEW),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(
                    async move { c.preview.revoke_tokens(&user()).await.map(|()| Value::Null) },
                )
            },
            answer: Value::Null,
        },
        Row {
            name: "preview get_token_for_teams_user sends the preview version",
            request: expect("POST", "/teamsUser/:exchangeAccessToken", PREVIEW).json(
                json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }),
            ),
            status: 200,
            reply: Some(json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON })),
            call: |c| {
                Box::pin(async move {
                    let token = c
                        .preview
                        .get_token_for_teams_user(&teams_user_options())
                        .await?;
                    Ok(token_json(&token))
                })
            },
            answer: token_answer(),
        },
        Row {
            name: "preview delete_teams_extension_assignment sends the preview version",
            request: expect("DELETE", &teams_assignment_path(), PREVIEW),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move {
                    c.preview
                        .delete_teams_extension_assignment(TENANT_ID, OBJECT_ID)
                        .await
                        .map(|()| Value::Null)
                })
            },
            answer: Value::Null,
        },
        Row {
            name: "preview get_entra_assignment reads the assignment",
            request: expect("GET", &entra_path, PREVIEW),
            status: 200,
            reply: Some(entra_assignment_json(OBJECT_ID)),
            call: |c| {
                Box::pin(async move {
                    Ok(entra_assignment_answer(
                        &c.preview.get_entra_assignment(OBJECT_ID).await?,
                    ))
                })
            },
            answer: json!({
                "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "User", "clientIds": [CLIENT_ID],
            }),
        },
        Row {
            name: "preview upsert_entra_assignment reports 201 as created",
            request: expect("PUT", &entra_path, PREVIEW).json(group_spec.clone()),
            status: 201,
            reply: Some(group_assignment.clone()),
            call: |c| Box::pin(async move { upsert_group_assignment(c).await }),
            answer: json!({ "created": true, "value": group_answer.clone() }),
        },
        Row {
            name: "preview upsert_entra_assignment reports 200 as replaced",
            request: expect("PUT", &entra_path, PREVIEW).json(group_spec),
            status: 200,
            reply: Some(group_assignment),
            call: |c| Box::pin(async move { upsert_group_assignment(c).await }),
            answer: json!({ "created": false, "value": group_answer }),
        },
        Row {
            name: "preview delete_entra_assignment sends DELETE and accepts 204",
            request: expect("DELETE", &entra_path, PREVIEW),
            status: 204,
            reply: None,
            call: |c| {
                Box::pin(async move {
                    c.preview
                        .delete_entra_assignment(OBJECT_ID)
                        .await
                        .map(|()| Value::Null)
                })
            },
            answer: Value::Null,
        },
        Row {
            name: "preview update_entra_assignments sends a merge patch with null for removal",
            request: expect("PATCH", "/access/entra/assignments", PREVIEW).merge_patch(bulk_body()),
            status: 200,
            reply: Some(json!({
                "value": [entra_assignment_json(OBJECT_ID), entra_assignment_json(OTHER_OBJECT_ID)],
            })),
            call: |c| Box::pin(async move { update_bulk(c).await }),
            answer: json!([
                { "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "User", "clientIds": [CLIENT_ID] },
                { "objectId": OTHER_OBJECT_ID, "tenantId": TENANT_ID, "principalType": "User", "clientIds": [CLIENT_ID] },
            ]),
        },
        Row {
            name: "preview update_entra_assignments answered 204 returns none",
            request: expect("PATCH", "/access/entra/assignments", PREVIEW).merge_patch(bulk_body()),
            status: 204,
            reply: None,
            call: |c| Box::pin(async move { update_bulk(c).await }),
            answer: Value::Null,
        },
        Row {
            name: "preview exchange_entra_token sends the user's token as bearer with an empty object",
            request: expect("POST", "/access/entra/:exchangeAccessToken", PREVIEW)
                .json(json!({}))
                .bearer(ENTRA_USER_TOKEN),
            status: 200,
            reply: Some(user_and_token_body(&entra_user())),
            call: |c| {
                Box::pin(async move {
                    let exchanged = c.preview.exchange_entra_token(ENTRA_USER_TOKEN).await?;
                    Ok(user_and_token_json(&exchanged))
                })
            },
            answer: user_and_token_answer(&entra_user()),
        },
    ]
}

fn user_detail_json(detail: &acs_identity::preview::CommunicationUserDetail) -> Value {
    json!({
        "user": detail.user.id(),
        "customId": detail.custom_id,
        "lastTokenIssuedAt": detail.last_token_issued_at.map(|at| at.to_rfc3339()),
    })
}

async fn upsert_group_assignment(c: Clients) -> Result<Value, Error> {
    let spec = EntraAssignmentSpec::new(TENANT_ID, EntraPrincipalType::Group, [CLIENT_ID]);
    let upserted = c.preview.upsert_entra_assignment(OBJECT_ID, spec).await?;
    Ok(json!({ "created": upserted.created, "value": entra_assignment_answer(&upserted.value) }))
}

async fn update_bulk(c: Clients) -> Result<Value, Error> {
    let updated = c.preview.update_entra_assignments(bulk_changes()).await?;
    Ok(updated.map_or(Value::Null, |all| {
        all.iter().map(entra_assignment_answer).collect()
    }))
}

#[tokio::test]
async fn every_operation_sends_its_request_and_reads_its_answer() {
    for row in operations() {
        let server = MockServer::start_async().await;
        let Row {
            name,
            request,
            status,
            reply,
            call,
            answer,
        } = row;
        let mock = server
            .mock_async(|when, then| {
                when.is_true(request.matcher());
                match reply {
                    Some(body) => {
                        reply_json(then, status, body);
                    }
                    None => {
                        then.status(status);
                    }
                }
            })
            .await;
        let clients = Clients {
            stable: stable_client(&server),
            preview: preview_client(&server),
            builder: builder(&server),
        };
        let got = bounded(call(clients))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(got, answer, "{name}");
        assert_eq!(
            mock.calls_async().await,
            1,
            "{name}: the request as expected, once"
        );
    }
}

// ---------------------------------------------------------------------------
// Stable client
// ---------------------------------------------------------------------------

#[test]
fn stable_client_refuses_a_preview_api_version_and_preview_client_a_stable_one() {
    let endpoint = "http://127.0.0.1:9";
    let err = builder_for(endpoint)
        .api_version(PREVIEW)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "api_version",
                ..
            }
        ),
        "{err:?}"
    );
    let err = builder_for(endpoint)
        .api_version(STABLE)
        .build_preview()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "api_version",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(builder_for(endpoint).build().unwrap().api_version(), STABLE);
    assert_eq!(
        builder_for(endpoint).build_preview().unwrap().api_version(),
        PREVIEW
    );
}

// ---------------------------------------------------------------------------
// Preview client
// ---------------------------------------------------------------------------

#[tokio::test]
async fn preview_list_entra_assignments_follows_next_link_over_three_pages() {
    let server = MockServer::start_async().await;
    let page_3_link = format!(
        "{}/access/entra/assignments?api-version={PREVIEW}&skipToken=page-3",
        server.base_url()
    );
    let first = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", "/access/entra/assignments", PREVIEW).matcher());
            reply_json(
                then,
                200,
                json!({
                    "value": [entra_assignment_json("object-1"), entra_assignment_json("object-2")],
                    // Relative and without api-version: the client adds it.
                    "nextLink": "/access/entra/assignments?skipToken=page-2",
                }),
            );
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "page-2")
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "value": [entra_assignment_json("object-3")], "nextLink": page_3_link }),
            );
        })
        .await;
    let third = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "page-3")
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "value": [entra_assignment_json("object-4")] }),
            );
        })
        .await;
    let client = preview_client(&server);
    let all: Vec<_> = bounded(client.list_entra_assignments().try_collect())
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|a| a.object_id.as_str()).collect();
    assert_eq!(ids, ["object-1", "object-2", "object-3", "object-4"]);
    assert!(all.iter().all(|a| a.tenant_id == TENANT_ID
        && a.principal_type == EntraPrincipalType::User
        && a.client_ids == [CLIENT_ID]));
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    third.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_list_entra_assignments_refuses_a_next_link_to_another_origin() {
    let server = MockServer::start_async().await;
    let elsewhere = MockServer::start_async().await;
    let foreign = elsewhere
        .mock_async(|when, then| {
            when.any_request();
            reply_json(then, 200, json!({ "value": [] }));
        })
        .await;
    let next_link = format!(
        "{}/access/entra/assignments?api-version={PREVIEW}&skipToken=2",
        elsewhere.base_url()
    );
    let first = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", "/access/entra/assignments", PREVIEW).matcher());
            reply_json(
                then,
                200,
                json!({ "value": [entra_assignment_json("object-1")], "nextLink": next_link }),
            );
        })
        .await;
    let client = preview_client(&server);
    let mut stream = std::pin::pin!(client.list_entra_assignments());
    let item = bounded(stream.try_next()).await.unwrap().unwrap();
    assert_eq!(item.object_id, "object-1");
    let err = bounded(stream.try_next()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "nextLink",
                ..
            }
        ),
        "{err:?}"
    );
    first.assert_calls_async(1).await;
    foreign.assert_calls_async(0).await;
}

/// A first page whose `nextLink` leads to `/access/entra/assignments?skipToken=2`.
async fn first_page_linking_to_a_second(server: &MockServer, expectation: Expect) {
    server
        .mock_async(|when, then| {
            when.is_true(expectation.matcher());
            reply_json(
                then,
                200,
                json!({
                    "value": [entra_assignment_json("object-1")],
                    "nextLink": "/access/entra/assignments?skipToken=2",
                }),
            );
        })
        .await;
}

#[tokio::test]
async fn preview_list_entra_assignments_maps_a_json_error_on_a_later_page() {
    let server = MockServer::start_async().await;
    first_page_linking_to_a_second(&server, expect("GET", "/access/entra/assignments", PREVIEW))
        .await;
    let second = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "2")
                    .matcher(),
            );
            reply_json(
                then,
                403,
                error_body("Forbidden", "The caller may not list assignments.", None),
            );
        })
        .await;
    let client = preview_client(&server);
    let result: Result<Vec<_>, _> = bounded(client.list_entra_assignments().try_collect()).await;
    let err = service_error(result.unwrap_err());
    assert_eq!(err.status, 403);
    assert_eq!(err.code.as_deref(), Some("Forbidden"));
    assert_eq!(err.message, "The caller may not list assignments.");
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_list_entra_assignments_error_on_a_later_page_names_the_request_id_sent() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    first_page_linking_to_a_second(&server, expect("GET", "/access/entra/assignments", PREVIEW))
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "2")
                    .recording(&log),
            );
            reply_json(then, 403, error_body("Forbidden", "No.", None));
        })
        .await;
    let client = preview_client(&server);
    let result: Result<Vec<_>, _> = bounded(client.list_entra_assignments().try_collect()).await;
    let err = result.unwrap_err();
    let sent = log
        .request_ids()
        .pop()
        .expect("the second page was requested");
    assert_eq!(err.request_id(), Some(sent.as_str()));
}

#[tokio::test]
async fn preview_list_entra_assignments_empty_error_on_a_later_page_is_a_service_error() {
    let server = MockServer::start_async().await;
    first_page_linking_to_a_second(&server, expect("GET", "/access/entra/assignments", PREVIEW))
        .await;
    let second = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "2")
                    .matcher(),
            );
            then.status(404);
        })
        .await;
    let client = preview_client(&server);
    let result: Result<Vec<_>, _> = bounded(client.list_entra_assignments().try_collect()).await;
    let err = service_error(result.unwrap_err());
    assert_eq!(err.status, 404);
    second.assert_calls_async(1).await;
}

#[tokio::test]
async fn token_credential_client_sends_the_entra_token_as_bearer_instead_of_a_signature() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", &user_path(""), PREVIEW)
                    .bearer(SERVICE_ENTRA_TOKEN)
                    .matcher(),
            );
            reply_json(then, 200, json!({ "id": USER_ID }));
        })
        .await;
    let client = token_credential_builder(&server).build_preview().unwrap();
    let detail = bounded(client.get_user(&user())).await.unwrap();
    assert_eq!(detail.user, user());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn token_credential_client_sends_the_bearer_on_every_list_page() {
    let server = MockServer::start_async().await;
    first_page_linking_to_a_second(
        &server,
        expect("GET", "/access/entra/assignments", PREVIEW).bearer(SERVICE_ENTRA_TOKEN),
    )
    .await;
    let second = server
        .mock_async(|when, then| {
            when.is_true(
                expect("GET", "/access/entra/assignments", PREVIEW)
                    .query("skipToken", "2")
                    .bearer(SERVICE_ENTRA_TOKEN)
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "value": [entra_assignment_json("object-2")] }),
            );
        })
        .await;
    let client = token_credential_builder(&server).build_preview().unwrap();
    let all: Vec<_> = bounded(client.list_entra_assignments().try_collect())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    second.assert_calls_async(1).await;
}

fn bulk_changes() -> Vec<(String, Option<EntraAssignmentSpec>)> {
    vec![
        (
            OBJECT_ID.to_string(),
            Some(EntraAssignmentSpec::new(
                TENANT_ID,
                EntraPrincipalType::User,
                [CLIENT_ID],
            )),
        ),
        (
            OTHER_OBJECT_ID.to_string(),
            Some(EntraAssignmentSpec::new(
                TENANT_ID,
                EntraPrincipalType::Tenant,
                Vec::<String>::new(),
            )),
        ),
        (REMOVED_OBJECT_ID.to_string(), None),
    ]
}

fn bulk_body() -> Value {
    json!({
        OBJECT_ID: { "tenantId": TENANT_ID, "principalType": "user", "clientIds": [CLIENT_ID] },
        OTHER_OBJECT_ID: { "tenantId": TENANT_ID, "principalType": "tenant", "clientIds": [] },
        REMOVED_OBJECT_ID: null,
    })
}

// ---------------------------------------------------------------------------
// Error answers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn json_error_answer_is_a_service_error_with_code_message_target_and_request_id() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", &user_path("/:issueAccessToken"), STABLE)
                    .json(json!({ "scopes": ["chat"] }))
                    .recording(&log),
            );
            reply_json(
                then,
                400,
                json!({
                    "error": {
                        "code": "ValidationError",
                        "message": "The scopes are invalid.",
                        "target": "scopes",
                        "details": [
                            { "code": "InvalidScope", "message": "Unknown scope.", "target": "scopes[0]" }
                        ],
                    }
                }),
            );
        })
        .await;
    let err = bounded(stable_client(&server).get_token(&user(), [TokenScope::Chat]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("ValidationError"));
    assert!(!err.is_retryable());
    let sent_id = log.request_ids().pop().expect("one request");
    assert_eq!(err.request_id(), Some(sent_id.as_str()));
    let e = service_error(err);
    assert_eq!(e.message, "The scopes are invalid.");
    assert_eq!(e.target.as_deref(), Some("scopes"));
    assert_eq!(e.details.len(), 1);
    assert_eq!(e.details[0].code, "InvalidScope");
    assert_eq!(e.details[0].target.as_deref(), Some("scopes[0]"));
    assert_eq!(e.request_id.as_deref(), Some(sent_id.as_str()));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn non_json_error_answer_is_a_service_error_with_status_and_text() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &user_path(""), STABLE).recording(&log));
            then.status(403)
                .header("content-type", "text/plain")
                .body("Forbidden by the gateway");
        })
        .await;
    let err = bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap_err();
    let e = service_error(err);
    assert_eq!(e.status, 403);
    assert_eq!(e.code, None);
    assert_eq!(e.message, "Forbidden by the gateway");
    assert_eq!(e.request_id, log.request_ids().pop());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn json_error_answer_of_another_shape_is_a_service_error_with_its_text() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &user_path(""), STABLE).matcher());
            reply_json(then, 409, json!({ "title": "Conflict" }));
        })
        .await;
    let err = bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap_err();
    let e = service_error(err);
    assert_eq!(e.status, 409);
    assert_eq!(e.code, None);
    assert_eq!(e.message, r#"{"title":"Conflict"}"#);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn empty_error_answer_is_a_service_error_with_status_only() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).recording(&log));
            then.status(404);
        })
        .await;
    let err = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    let e = service_error(err);
    assert_eq!(e.status, 404);
    assert_eq!(e.code, None);
    assert_eq!(e.message, "");
    assert_eq!(e.request_id, log.request_ids().pop());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn success_with_malformed_json_is_a_decode_error_with_status() {
    let server = MockServer::start_async().await;
    let log = Recorded::default();
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).recording(&log));
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"id": "8:acs:tr"#);
        })
        .await;
    let err = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap_err();
    let e = decode_error(err);
    assert_eq!(e.status, Some(200));
    assert_eq!(e.request_id, log.request_ids().pop());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn success_with_an_empty_body_is_a_decode_error_with_status() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", &user_path("/:issueAccessToken"), STABLE)
                    .json(json!({ "scopes": ["chat"] }))
                    .matcher(),
            );
            then.status(200).header("content-type", "application/json");
        })
        .await;
    let err = bounded(stable_client(&server).get_token(&user(), [TokenScope::Chat]))
        .await
        .unwrap_err();
    assert_eq!(decode_error(err).status, Some(200));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn success_with_a_non_json_content_type_is_a_decode_error_with_status() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "GET",
                    &format!("/access/entra/assignments/{OBJECT_ID}"),
                    PREVIEW,
                )
                .matcher(),
            );
            then.status(200)
                .header("content-type", "text/html")
                .json_body(entra_assignment_json(OBJECT_ID));
        })
        .await;
    let err = bounded(preview_client(&server).get_entra_assignment(OBJECT_ID))
        .await
        .unwrap_err();
    let e = decode_error(err);
    assert_eq!(e.status, Some(200));
    assert!(e.reason.contains("text/html"), "{}", e.reason);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn json_content_type_with_parameters_is_accepted() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "GET",
                    &format!("/access/entra/assignments/{OBJECT_ID}"),
                    PREVIEW,
                )
                .matcher(),
            );
            then.status(200)
                .header("content-type", "application/json; charset=utf-8")
                .json_body(entra_assignment_json(OBJECT_ID));
        })
        .await;
    let assignment = bounded(preview_client(&server).get_entra_assignment(OBJECT_ID))
        .await
        .unwrap();
    assert_eq!(assignment.object_id, OBJECT_ID);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn create_user_and_token_answer_without_a_token_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ["chat"] }))
                    .matcher(),
            );
            reply_json(then, 201, json!({ "identity": { "id": USER_ID } }));
        })
        .await;
    let err = bounded(stable_client(&server).create_user_and_token([TokenScope::Chat]))
        .await
        .unwrap_err();
    let e = decode_error(err);
    assert_eq!(e.status, Some(201));
    assert!(e.reason.contains("accessToken"), "{}", e.reason);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn success_status_the_api_does_not_declare_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &user_path(""), STABLE).matcher());
            reply_json(then, 200, json!({}));
        })
        .await;
    let err = bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap_err();
    assert_eq!(decode_error(err).status, Some(200));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn success_with_a_body_over_16_mib_is_a_decode_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).matcher());
            then.status(200)
                .header("content-type", "application/json")
                .body(vec![b' '; acs_identity::MAX_RESPONSE_BODY + 1]);
        })
        .await;
    let err = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap_err();
    let e = decode_error(err);
    assert_eq!(e.status, Some(200));
    assert!(e.reason.contains("larger"), "{}", e.reason);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn error_status_with_a_body_over_16_mib_is_still_a_service_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).matcher());
            then.status(403)
                .header("content-type", "text/plain")
                .body(vec![b'x'; acs_identity::MAX_RESPONSE_BODY + 1]);
        })
        .await;
    let err = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap_err();
    assert_eq!(service_error(err).status, 403);
    mock.assert_calls_async(1).await;
}

// ---------------------------------------------------------------------------
// Arguments refused before sending
// ---------------------------------------------------------------------------

#[tokio::test]
async fn lifetimes_outside_60_to_1440_minutes_or_not_whole_minutes_are_refused_unsent() {
    let server = MockServer::start_async().await;
    let anything = server
        .mock_async(|when, then| {
            when.any_request();
            reply_json(then, 201, user_and_token_body(USER_ID));
        })
        .await;
    let stable = stable_client(&server);
    let preview = preview_client(&server);
    let bad = [
        Duration::from_secs(59 * 60),
        Duration::from_secs(1441 * 60),
        Duration::ZERO,
        Duration::from_secs(90 * 60 + 30),
        Duration::from_millis(3_600_001),
    ];
    for lifetime in bad {
        let errors = [
            bounded(
                stable
                    .get_token(&user(), [TokenScope::Chat])
                    .expires_in(lifetime),
            )
            .await
            .unwrap_err(),
            bounded(
                stable
                    .create_user_and_token([TokenScope::Chat])
                    .expires_in(lifetime),
            )
            .await
            .unwrap_err(),
            bounded(
                preview
                    .create_user_and_token([TokenScope::Chat])
                    .expires_in(lifetime)
                    .custom_id("alice"),
            )
            .await
            .unwrap_err(),
        ];
        for err in errors {
            assert!(
                matches!(
                    err,
                    Error::InvalidArgument {
                        name: "expires_in",
                        ..
                    }
                ),
                "{lifetime:?}: {err:?}"
            );
        }
    }
    anything.assert_calls_async(0).await;
}

#[tokio::test]
async fn empty_inputs_are_refused_unsent() {
    let server = MockServer::start_async().await;
    let anything = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(204);
        })
        .await;
    let stable = stable_client(&server);
    let preview = preview_client(&server);
    let errors = [
        bounded(stable.get_token(&user(), [])).await.unwrap_err(),
        bounded(stable.create_user_and_token([])).await.unwrap_err(),
        bounded(
            stable.get_token_for_teams_user(&GetTokenForTeamsUserOptions::new(
                "", CLIENT_ID, OBJECT_ID,
            )),
        )
        .await
        .unwrap_err(),
        bounded(stable.exchange_teams_extension_token(" "))
            .await
            .unwrap_err(),
        bounded(stable.get_teams_extension_assignment(TENANT_ID, ""))
            .await
            .unwrap_err(),
        bounded(preview.exchange_entra_token("")).await.unwrap_err(),
        bounded(preview.get_entra_assignment("")).await.unwrap_err(),
        bounded(preview.update_entra_assignments(Vec::new()))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
    anything.assert_calls_async(0).await;
}

#[test]
fn stable_client_from_connection_string_targets_its_endpoint() {
    let conn = format!("endpoint=http://127.0.0.1:9/;accesskey={}", key_base64());
    let client = CommunicationIdentityClient::from_connection_string(&conn).unwrap();
    assert_eq!(client.endpoint().as_str(), "http://127.0.0.1:9/");
    assert_eq!(client.api_version(), STABLE);
}
