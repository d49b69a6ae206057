//! Every operation of the stable and preview clients on the wire: method,
//! path, query, headers, signature and body of the request, and the value
//! made of the answer; then how error answers and refused arguments map.

mod common;

use std::time::Duration;

use acs_identity::{
    CommunicationIdentityClient, EntraAssignmentSpec, EntraPrincipalType, Error,
    GetTokenForTeamsUserOptions, TeamsExtensionPrincipalType, TokenScope,
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
// Stable client
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stable_create_user_posts_an_empty_object_and_returns_the_new_user() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({}))
                    .matcher(),
            );
            reply_json(then, 201, json!({ "identity": { "id": USER_ID } }));
        })
        .await;
    let created = bounded(stable_client(&server).create_user()).await.unwrap();
    assert_eq!(created.id(), USER_ID);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_create_user_and_token_sends_scopes_and_minutes_and_returns_both() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60 }))
                    .matcher(),
            );
            reply_json(then, 201, user_and_token_body(USER_ID));
        })
        .await;
    let created = bounded(
        stable_client(&server)
            .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
            .expires_in(Duration::from_secs(60 * 60)),
    )
    .await
    .unwrap();
    assert_eq!(created.user.id(), USER_ID);
    assert_eq!(created.access_token.token(), ACS_TOKEN);
    assert_eq!(created.access_token.expires_on(), date(EXPIRES_ON));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_create_user_and_token_without_lifetime_leaves_minutes_to_the_service() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", STABLE)
                    .json(json!({ "createTokenWithScopes": ALL_SCOPES }))
                    .matcher(),
            );
            reply_json(then, 201, user_and_token_body(USER_ID));
        })
        .await;
    let created = bounded(stable_client(&server).create_user_and_token(TokenScope::KNOWN))
        .await
        .unwrap();
    assert_eq!(created.access_token.token(), ACS_TOKEN);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_get_token_posts_scopes_and_minutes_to_issue_access_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", &user_path("/:issueAccessToken"), STABLE)
                    .json(json!({ "scopes": ALL_SCOPES, "expiresInMinutes": 90 }))
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }),
            );
        })
        .await;
    let token = bounded(
        stable_client(&server)
            .get_token(&user(), TokenScope::KNOWN)
            .expires_in(Duration::from_secs(90 * 60)),
    )
    .await
    .unwrap();
    assert_eq!(token.token(), ACS_TOKEN);
    assert_eq!(token.expires_on(), date(EXPIRES_ON));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_get_token_without_lifetime_sends_scopes_only() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", &user_path("/:issueAccessToken"), STABLE)
                    .json(json!({ "scopes": ["voip.join"] }))
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }),
            );
        })
        .await;
    let token = bounded(stable_client(&server).get_token(&user(), [TokenScope::VoipJoin]))
        .await
        .unwrap();
    assert_eq!(token.token(), ACS_TOKEN);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_lifetime_bounds_of_60_and_1440_minutes_are_sent() {
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for minutes in [60, 1440] {
        mocks.push(
            server
                .mock_async(|when, then| {
                    when.is_true(
                        expect("POST", &user_path("/:issueAccessToken"), STABLE)
                            .json(json!({ "scopes": ["chat"], "expiresInMinutes": minutes }))
                            .matcher(),
                    );
                    reply_json(
                        then,
                        200,
                        json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }),
                    );
                })
                .await,
        );
    }
    let client = stable_client(&server);
    for lifetime in [
        acs_identity::MIN_TOKEN_LIFETIME,
        acs_identity::MAX_TOKEN_LIFETIME,
    ] {
        bounded(
            client
                .get_token(&user(), [TokenScope::Chat])
                .expires_in(lifetime),
        )
        .await
        .unwrap();
    }
    for mock in mocks {
        mock.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn stable_revoke_tokens_posts_without_body_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("POST", &user_path("/:revokeAccessTokens"), STABLE).matcher());
            then.status(204);
        })
        .await;
    bounded(stable_client(&server).revoke_tokens(&user()))
        .await
        .unwrap();
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_delete_user_sends_delete_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &user_path(""), STABLE).matcher());
            then.status(204);
        })
        .await;
    bounded(stable_client(&server).delete_user(&user()))
        .await
        .unwrap();
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_get_token_for_teams_user_sends_token_app_and_user_and_is_signed() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/teamsUser/:exchangeAccessToken", STABLE)
                    .json(json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }))
                    .matcher(),
            );
            reply_json(then, 200, json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }));
        })
        .await;
    let options = GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID);
    let token = bounded(stable_client(&server).get_token_for_teams_user(&options))
        .await
        .unwrap();
    assert_eq!(token.token(), ACS_TOKEN);
    assert_eq!(token.expires_on(), date(EXPIRES_ON));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_get_teams_extension_assignment_reads_the_assignment() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &teams_assignment_path(), STABLE).matcher());
            reply_json(
                then,
                200,
                json!({
                    "objectId": OBJECT_ID,
                    "tenantId": TENANT_ID,
                    "principalType": "resourceAccount",
                    "clientIds": [CLIENT_ID],
                }),
            );
        })
        .await;
    let assignment =
        bounded(stable_client(&server).get_teams_extension_assignment(TENANT_ID, OBJECT_ID))
            .await
            .unwrap();
    assert_eq!(assignment.object_id, OBJECT_ID);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(
        assignment.principal_type,
        TeamsExtensionPrincipalType::ResourceAccount
    );
    assert_eq!(assignment.client_ids, [CLIENT_ID]);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_upsert_teams_extension_assignment_reports_201_as_created_and_200_as_replaced() {
    let server = MockServer::start_async().await;
    let created = server
        .mock_async(|when, then| {
            when.is_true(
                expect("PUT", &teams_assignment_path(), STABLE)
                    .json(json!({ "principalType": "resourceAccount", "clientIds": [CLIENT_ID] }))
                    .matcher(),
            );
            reply_json(
                then,
                201,
                json!({
                    "objectId": OBJECT_ID,
                    "tenantId": TENANT_ID,
                    "principalType": "resourceAccount",
                    "clientIds": [CLIENT_ID],
                }),
            );
        })
        .await;
    let replaced = server
        .mock_async(|when, then| {
            when.is_true(
                expect("PUT", &teams_assignment_path(), STABLE)
                    .json(json!({ "principalType": "user" }))
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "user" }),
            );
        })
        .await;
    let client = stable_client(&server);
    let first = bounded(client.upsert_teams_extension_assignment(
        TENANT_ID,
        OBJECT_ID,
        TeamsExtensionPrincipalType::ResourceAccount,
        [CLIENT_ID],
    ))
    .await
    .unwrap();
    assert!(first.created);
    assert_eq!(first.value.client_ids, [CLIENT_ID]);
    let second = bounded(client.upsert_teams_extension_assignment(
        TENANT_ID,
        OBJECT_ID,
        TeamsExtensionPrincipalType::User,
        Vec::<String>::new(),
    ))
    .await
    .unwrap();
    assert!(!second.created);
    assert_eq!(
        second.value.principal_type,
        TeamsExtensionPrincipalType::User
    );
    assert!(second.value.client_ids.is_empty());
    created.assert_calls_async(1).await;
    replaced.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_delete_teams_extension_assignment_sends_delete_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &teams_assignment_path(), STABLE).matcher());
            then.status(204);
        })
        .await;
    bounded(stable_client(&server).delete_teams_extension_assignment(TENANT_ID, OBJECT_ID))
        .await
        .unwrap();
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_teams_extension_exchange_sends_the_user_token_as_bearer_with_an_empty_object() {
    let server = MockServer::start_async().await;
    let extension_user =
        format!("8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_{TENANT_ID}_{OBJECT_ID}");
    let mock = server
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
            reply_json(then, 200, user_and_token_body(&extension_user));
        })
        .await;
    let exchanged =
        bounded(stable_client(&server).exchange_teams_extension_token(ENTRA_USER_TOKEN))
            .await
            .unwrap();
    assert_eq!(exchanged.user.id(), extension_user);
    assert_eq!(exchanged.access_token.token(), ACS_TOKEN);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn stable_client_pinned_to_2023_10_01_sends_that_version() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", &user_path("/:issueAccessToken"), "2023-10-01")
                    .json(json!({ "scopes": ["chat"] }))
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }),
            );
        })
        .await;
    let client = builder(&server).api_version("2023-10-01").build().unwrap();
    assert_eq!(client.api_version(), "2023-10-01");
    bounded(client.get_token(&user(), [TokenScope::Chat]))
        .await
        .unwrap();
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn application_id_comes_first_in_the_user_agent() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("DELETE", &user_path(""), STABLE)
                    .user_agent_prefix("token-svc azsdk-rust-communication-identity/")
                    .matcher(),
            );
            then.status(204);
        })
        .await;
    let client = builder(&server)
        .application_id("token-svc")
        .build()
        .unwrap();
    bounded(client.delete_user(&user())).await.unwrap();
    mock.assert_calls_async(1).await;
}

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
async fn preview_create_user_with_custom_id_sends_it() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", PREVIEW)
                    .json(json!({ "customId": "sally@contoso.com" }))
                    .matcher(),
            );
            reply_json(
                then,
                201,
                json!({ "identity": { "id": USER_ID, "customId": "sally@contoso.com" } }),
            );
        })
        .await;
    let created = bounded(
        preview_client(&server)
            .create_user()
            .custom_id("sally@contoso.com"),
    )
    .await
    .unwrap();
    assert_eq!(created.id(), USER_ID);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_create_user_without_custom_id_posts_an_empty_object() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", PREVIEW)
                    .json(json!({}))
                    .matcher(),
            );
            reply_json(then, 201, json!({ "identity": { "id": USER_ID } }));
        })
        .await;
    let created = bounded(preview_client(&server).create_user())
        .await
        .unwrap();
    assert_eq!(created.id(), USER_ID);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_create_user_and_token_with_custom_id_sends_id_scopes_and_minutes() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/identities", PREVIEW)
                    .json(json!({
                        "customId": "sally@contoso.com",
                        "createTokenWithScopes": ALL_SCOPES,
                        "expiresInMinutes": 60,
                    }))
                    .matcher(),
            );
            let mut body = user_and_token_body(USER_ID);
            body["identity"]["customId"] = json!("sally@contoso.com");
            body["identity"]["lastTokenIssuedAt"] = json!("2025-02-10T21:39:39.3244584+00:00");
            reply_json(then, 201, body);
        })
        .await;
    let created = bounded(
        preview_client(&server)
            .create_user_and_token(TokenScope::KNOWN)
            .expires_in(Duration::from_secs(3600))
            .custom_id("sally@contoso.com"),
    )
    .await
    .unwrap();
    assert_eq!(created.user.id(), USER_ID);
    assert_eq!(created.access_token.token(), ACS_TOKEN);
    assert_eq!(created.access_token.expires_on(), date(EXPIRES_ON));
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_get_user_reads_custom_id_and_last_token_time() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).matcher());
            reply_json(
                then,
                200,
                json!({
                    "id": USER_ID,
                    "customId": "sally@contoso.com",
                    "lastTokenIssuedAt": "2025-02-10T21:39:39.3244584+00:00",
                }),
            );
        })
        .await;
    let detail = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap();
    assert_eq!(detail.user, user());
    assert_eq!(detail.custom_id.as_deref(), Some("sally@contoso.com"));
    assert_eq!(
        detail.last_token_issued_at,
        Some(date("2025-02-10T21:39:39.3244584+00:00"))
    );
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_get_user_without_optional_fields_reads_none() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(expect("GET", &user_path(""), PREVIEW).matcher());
            reply_json(then, 200, json!({ "id": USER_ID }));
        })
        .await;
    let detail = bounded(preview_client(&server).get_user(&user()))
        .await
        .unwrap();
    assert_eq!(detail.custom_id, None);
    assert_eq!(detail.last_token_issued_at, None);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_shared_operations_send_the_preview_version() {
    let server = MockServer::start_async().await;
    let revoke = server
        .mock_async(|when, then| {
            when.is_true(expect("POST", &user_path("/:revokeAccessTokens"), PREVIEW).matcher());
            then.status(204);
        })
        .await;
    let teams = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/teamsUser/:exchangeAccessToken", PREVIEW)
                    .json(json!({ "token": ENTRA_USER_TOKEN, "appId": CLIENT_ID, "userId": OBJECT_ID }))
                    .matcher(),
            );
            reply_json(then, 200, json!({ "token": ACS_TOKEN, "expiresOn": EXPIRES_ON }));
        })
        .await;
    let delete_assignment = server
        .mock_async(|when, then| {
            when.is_true(expect("DELETE", &teams_assignment_path(), PREVIEW).matcher());
            then.status(204);
        })
        .await;
    let client = preview_client(&server);
    bounded(client.revoke_tokens(&user())).await.unwrap();
    let options = GetTokenForTeamsUserOptions::new(ENTRA_USER_TOKEN, CLIENT_ID, OBJECT_ID);
    bounded(client.get_token_for_teams_user(&options))
        .await
        .unwrap();
    bounded(client.delete_teams_extension_assignment(TENANT_ID, OBJECT_ID))
        .await
        .unwrap();
    revoke.assert_calls_async(1).await;
    teams.assert_calls_async(1).await;
    delete_assignment.assert_calls_async(1).await;
}

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

#[tokio::test]
async fn preview_get_entra_assignment_reads_the_assignment() {
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
            reply_json(then, 200, entra_assignment_json(OBJECT_ID));
        })
        .await;
    let assignment = bounded(preview_client(&server).get_entra_assignment(OBJECT_ID))
        .await
        .unwrap();
    assert_eq!(assignment.object_id, OBJECT_ID);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(assignment.principal_type, EntraPrincipalType::User);
    assert_eq!(assignment.client_ids, [CLIENT_ID]);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_upsert_entra_assignment_reports_201_as_created_and_200_as_replaced() {
    let server = MockServer::start_async().await;
    let path = format!("/access/entra/assignments/{OBJECT_ID}");
    let body = json!({ "tenantId": TENANT_ID, "principalType": "group", "clientIds": [CLIENT_ID] });
    let mut answer = entra_assignment_json(OBJECT_ID);
    answer["principalType"] = json!("group");
    let created = server
        .mock_async(|when, then| {
            when.is_true(expect("PUT", &path, PREVIEW).json(body.clone()).matcher());
            reply_json(then, 201, answer.clone()).up_to_n_times(1);
        })
        .await;
    let replaced = server
        .mock_async(|when, then| {
            when.is_true(expect("PUT", &path, PREVIEW).json(body.clone()).matcher());
            reply_json(then, 200, answer.clone());
        })
        .await;
    let client = preview_client(&server);
    let spec = EntraAssignmentSpec::new(TENANT_ID, EntraPrincipalType::Group, [CLIENT_ID]);
    let first = bounded(client.upsert_entra_assignment(OBJECT_ID, spec.clone()))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.value.principal_type, EntraPrincipalType::Group);
    let second = bounded(client.upsert_entra_assignment(OBJECT_ID, spec))
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.value.object_id, OBJECT_ID);
    created.assert_calls_async(1).await;
    replaced.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_delete_entra_assignment_sends_delete_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect(
                    "DELETE",
                    &format!("/access/entra/assignments/{OBJECT_ID}"),
                    PREVIEW,
                )
                .matcher(),
            );
            then.status(204);
        })
        .await;
    bounded(preview_client(&server).delete_entra_assignment(OBJECT_ID))
        .await
        .unwrap();
    mock.assert_calls_async(1).await;
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

#[tokio::test]
async fn preview_update_entra_assignments_sends_a_merge_patch_with_null_for_removal() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("PATCH", "/access/entra/assignments", PREVIEW)
                    .merge_patch(bulk_body())
                    .matcher(),
            );
            reply_json(
                then,
                200,
                json!({
                    "value": [entra_assignment_json(OBJECT_ID), entra_assignment_json(OTHER_OBJECT_ID)],
                }),
            );
        })
        .await;
    let updated = bounded(preview_client(&server).update_entra_assignments(bulk_changes()))
        .await
        .unwrap()
        .expect("a 200 answer has the assignments");
    let ids: Vec<_> = updated.iter().map(|a| a.object_id.as_str()).collect();
    assert_eq!(ids, [OBJECT_ID, OTHER_OBJECT_ID]);
    assert_eq!(updated[0].client_ids, [CLIENT_ID]);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_update_entra_assignments_answered_204_returns_none() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("PATCH", "/access/entra/assignments", PREVIEW)
                    .merge_patch(bulk_body())
                    .matcher(),
            );
            then.status(204);
        })
        .await;
    let updated = bounded(preview_client(&server).update_entra_assignments(bulk_changes()))
        .await
        .unwrap();
    assert_eq!(updated, None);
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn preview_exchange_entra_token_sends_the_user_token_as_bearer_with_an_empty_object() {
    let server = MockServer::start_async().await;
    let entra_user =
        format!("8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_wf_{TENANT_ID}_{OBJECT_ID}");
    let mock = server
        .mock_async(|when, then| {
            when.is_true(
                expect("POST", "/access/entra/:exchangeAccessToken", PREVIEW)
                    .json(json!({}))
                    .bearer(ENTRA_USER_TOKEN)
                    .matcher(),
            );
            reply_json(then, 200, user_and_token_body(&entra_user));
        })
        .await;
    let exchanged = bounded(preview_client(&server).exchange_entra_token(ENTRA_USER_TOKEN))
        .await
        .unwrap();
    assert_eq!(exchanged.user.id(), entra_user);
    assert_eq!(exchanged.access_token.token(), ACS_TOKEN);
    assert_eq!(exchanged.access_token.expires_on(), date(EXPIRES_ON));
    mock.assert_calls_async(1).await;
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
