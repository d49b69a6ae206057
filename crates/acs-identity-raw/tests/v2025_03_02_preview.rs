//! Wire-level tests of the generated `v2025_03_02_preview` client: each of
//! its 16 operations against a local `httpmock` server, on success and on a
//! service error, plus the merge-patch body, the `Transport` seam and the
//! `JsonSchema` derive.

mod common;

use std::collections::HashMap;

use acs_identity_raw::v2025_03_02_preview::{Client, types};
use acs_identity_raw::{Error, Inner, ResponseValue};
use common::example::*;
use common::{bodiless_call, call, json_call, utc};
use httpmock::prelude::*;
use serde_json::{Value, json};

const VERSION: &str = "2025-03-02-preview";

/// `/access/entra/assignments/{OBJECT_ID}`.
const ENTRA_ASSIGNMENT_PATH: &str =
    "/access/entra/assignments/b27b64b9-39d2-44a3-869d-67700b74e805";

/// The timestamps of the preview examples.
const TOKEN_EXPIRES_ON: &str = "2023-10-10T21:39:39.3244584+00:00";
const EXCHANGE_EXPIRES_ON: &str = "2025-04-10T21:39:39.3244584+00:00";
const LAST_TOKEN_ISSUED_AT: &str = "2025-02-10T21:39:39.3244584+00:00";

/// User id returned by the Entra ID token exchange example.
const ENTRA_USER_ID: &str = "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_wf_c70d068c-2f32-484d-9455-73070cd5aadd_b27b64b9-39d2-44a3-869d-67700b74e805";
const CUSTOM_ID: &str = "sally@contoso.com";

fn token_expires_on() -> chrono::DateTime<chrono::Utc> {
    utc((2023, 10, 10), (21, 39, 39), 324_458_400)
}

fn exchange_expires_on() -> chrono::DateTime<chrono::Utc> {
    utc((2025, 4, 10), (21, 39, 39), 324_458_400)
}

fn last_token_issued_at() -> chrono::DateTime<chrono::Utc> {
    utc((2025, 2, 10), (21, 39, 39), 324_458_400)
}

fn client(server: &MockServer) -> Client {
    Client::new(&server.base_url(), Inner::plain())
}

fn scopes(names: &[&str]) -> Vec<types::CommunicationIdentityTokenScope> {
    names.iter().map(|name| name.parse().unwrap()).collect()
}

fn token_request(expires_in_minutes: i32) -> types::CommunicationIdentityAccessTokenRequest {
    types::CommunicationIdentityAccessTokenRequest {
        scopes: scopes(&ALL_SCOPES),
        expires_in_minutes: Some(expires_in_minutes),
    }
}

fn teams_user_request() -> types::TeamsUserExchangeTokenRequest {
    types::TeamsUserExchangeTokenRequest {
        token: TEAMS_USER_AAD_TOKEN.to_owned(),
        app_id: TEAMS_USER_APP_ID.to_owned(),
        user_id: TEAMS_USER_USER_ID.to_owned(),
    }
}

fn resource_account_request() -> types::TeamsExtensionAssignmentCreateOrUpdateRequest {
    types::TeamsExtensionAssignmentCreateOrUpdateRequest {
        principal_type: types::TeamsExtensionPrincipalType("resourceAccount".to_owned()),
        client_ids: Vec::new(),
    }
}

fn entra_request(principal_type: &str) -> types::EntraAssignmentCreateOrUpdateRequest {
    types::EntraAssignmentCreateOrUpdateRequest {
        tenant_id: TENANT_ID.to_owned(),
        principal_type: types::EntraPrincipalType(principal_type.to_owned()),
        client_ids: vec![CLIENT_ID.to_owned()],
    }
}

/// The JSON of an Entra assignment as the examples show it.
fn entra_assignment_json(object_id: &str, principal_type: &str) -> Value {
    json!({
        "objectId": object_id,
        "tenantId": TENANT_ID,
        "principalType": principal_type,
        "clientIds": [CLIENT_ID]
    })
}

fn assert_entra_assignment(
    assignment: &types::EntraAssignment,
    object_id: &str,
    principal_type: &str,
) {
    assert_eq!(assignment.object_id, object_id);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(assignment.principal_type.as_str(), principal_type);
    assert_eq!(assignment.client_ids, [CLIENT_ID]);
}

/// The UpdateEntraAssignments example: two upserts and one removal.
fn bulk_update() -> types::EntraAssignmentUpdateBulkRequest {
    types::EntraAssignmentUpdateBulkRequest(HashMap::from([
        (OBJECT_ID.to_owned(), Some(entra_request("user"))),
        (REMOVED_OBJECT_ID.to_owned(), None),
        (SECOND_OBJECT_ID.to_owned(), Some(entra_request("user"))),
    ]))
}

fn bulk_update_json() -> Value {
    let assignment = json!({
        "tenantId": TENANT_ID,
        "principalType": "user",
        "clientIds": [CLIENT_ID]
    });
    json!({
        OBJECT_ID: assignment.clone(),
        REMOVED_OBJECT_ID: null,
        SECOND_OBJECT_ID: assignment
    })
}

// ---------------------------------------------------------------------------
// Identities and their tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_identity_posts_custom_id_scopes_and_lifetime_and_decodes_user_and_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                "/identities",
                VERSION,
                json!({
                    "customId": CUSTOM_ID,
                    "createTokenWithScopes": ALL_SCOPES,
                    "expiresInMinutes": 60
                }),
            );
            then.status(201).json_body(json!({
                "identity": {
                    "customId": CUSTOM_ID,
                    "id": USER_ID,
                    "lastTokenIssuedAt": LAST_TOKEN_ISSUED_AT
                },
                "accessToken": { "token": "token", "expiresOn": TOKEN_EXPIRES_ON }
            }));
        })
        .await;

    let body = types::CommunicationIdentityCreateRequest {
        custom_id: Some(CUSTOM_ID.parse().unwrap()),
        create_token_with_scopes: scopes(&ALL_SCOPES),
        expires_in_minutes: Some(60),
    };
    let response = client(&server)
        .create_identity(VERSION, &body)
        .await
        .expect("create succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 201);
    let result = response.into_inner();
    assert_eq!(result.identity.id, USER_ID);
    assert_eq!(result.identity.custom_id.as_deref(), Some(CUSTOM_ID));
    assert_eq!(
        result.identity.last_token_issued_at,
        Some(last_token_issued_at())
    );
    let token = result.access_token.expect("access token present");
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, token_expires_on());
}

/// The spec makes the body optional and leaves `expiresInMinutes` to the
/// service when absent: a default body is `{}`, nothing invented.
#[tokio::test]
async fn create_identity_with_default_body_sends_an_empty_object_and_decodes_user_only() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(when, POST, "/identities", VERSION, json!({}));
            then.status(201)
                .json_body(json!({ "identity": { "id": USER_ID } }));
        })
        .await;

    let result = client(&server)
        .create_identity(
            VERSION,
            &types::CommunicationIdentityCreateRequest::default(),
        )
        .await
        .expect("create succeeds")
        .into_inner();

    mock.assert_async().await;
    assert_eq!(result.identity.id, USER_ID);
    assert_eq!(result.identity.custom_id, None);
    assert_eq!(result.identity.last_token_issued_at, None);
    assert_eq!(result.access_token, None);
}

#[test]
fn custom_id_must_not_be_empty() {
    assert!(
        "".parse::<types::CommunicationIdentityCreateRequestCustomId>()
            .is_err()
    );
    assert!(
        serde_json::from_value::<types::CommunicationIdentityCreateRequest>(
            json!({ "customId": "" })
        )
        .is_err()
    );
    let custom_id: types::CommunicationIdentityCreateRequestCustomId = CUSTOM_ID.parse().unwrap();
    assert_eq!(custom_id.as_str(), CUSTOM_ID);
}

#[tokio::test]
async fn get_identity_reads_user_path_and_decodes_custom_id_and_last_token_time() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, USER_PATH, VERSION);
            then.status(200).json_body(json!({
                "id": USER_ID,
                "customId": CUSTOM_ID,
                "lastTokenIssuedAt": LAST_TOKEN_ISSUED_AT
            }));
        })
        .await;

    let response = client(&server)
        .get_identity(USER_ID, VERSION)
        .await
        .expect("get succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let identity = response.into_inner();
    assert_eq!(identity.id, USER_ID);
    assert_eq!(identity.custom_id.as_deref(), Some(CUSTOM_ID));
    assert_eq!(identity.last_token_issued_at, Some(last_token_issued_at()));
}

#[tokio::test]
async fn delete_identity_sends_delete_to_user_path_with_raw_colons_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, DELETE, USER_PATH, VERSION);
            then.status(204);
        })
        .await;

    let response = client(&server)
        .delete_identity(USER_ID, VERSION)
        .await
        .expect("delete succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 204);
}

#[tokio::test]
async fn revoke_access_tokens_posts_without_body_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(
                when,
                POST,
                &format!("{USER_PATH}/:revokeAccessTokens"),
                VERSION,
            );
            then.status(204);
        })
        .await;

    let response = client(&server)
        .revoke_access_tokens(USER_ID, VERSION)
        .await
        .expect("revoke succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 204);
}

#[tokio::test]
async fn exchange_teams_user_access_token_posts_token_app_and_user_and_decodes_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                "/teamsUser/:exchangeAccessToken",
                VERSION,
                json!({
                    "token": TEAMS_USER_AAD_TOKEN,
                    "appId": TEAMS_USER_APP_ID,
                    "userId": TEAMS_USER_USER_ID
                }),
            );
            then.status(200).json_body(json!({
                "token": TEAMS_USER_ACS_TOKEN,
                "expiresOn": TOKEN_EXPIRES_ON
            }));
        })
        .await;

    let response = client(&server)
        .exchange_teams_user_access_token(VERSION, &teams_user_request())
        .await
        .expect("exchange succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let token = response.into_inner();
    assert_eq!(token.token, TEAMS_USER_ACS_TOKEN);
    assert_eq!(token.expires_on, token_expires_on());
}

#[tokio::test]
async fn issue_access_token_posts_scopes_and_decodes_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                &format!("{USER_PATH}/:issueAccessToken"),
                VERSION,
                json!({ "scopes": ALL_SCOPES, "expiresInMinutes": 60 }),
            );
            then.status(200)
                .json_body(json!({ "token": "token", "expiresOn": TOKEN_EXPIRES_ON }));
        })
        .await;

    let response = client(&server)
        .issue_access_token(USER_ID, VERSION, &token_request(60))
        .await
        .expect("issue succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let token = response.into_inner();
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, token_expires_on());
}

// ---------------------------------------------------------------------------
// Teams Phone (teamsExtension) token exchange and assignments
// ---------------------------------------------------------------------------

#[tokio::test]
async fn exchange_teams_extension_access_token_posts_empty_object_and_decodes_user_and_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                "/access/teamsExtension/:exchangeAccessToken",
                VERSION,
                json!({}),
            );
            then.status(200).json_body(json!({
                "identity": { "id": TEAMS_EXTENSION_USER_ID },
                "accessToken": { "token": "token", "expiresOn": EXCHANGE_EXPIRES_ON }
            }));
        })
        .await;

    let body = types::TeamsExtensionExchangeTokenRequest(serde_json::Map::new());
    let response = client(&server)
        .exchange_teams_extension_access_token(VERSION, &body)
        .await
        .expect("exchange succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let result = response.into_inner();
    assert_eq!(result.identity.id, TEAMS_EXTENSION_USER_ID);
    assert_eq!(result.identity.custom_id, None);
    let token = result.access_token.expect("access token present");
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, exchange_expires_on());
}

#[tokio::test]
async fn get_teams_extension_assignment_reads_tenant_and_object_and_decodes_it() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, TEAMS_EXTENSION_ASSIGNMENT_PATH, VERSION);
            then.status(200).json_body(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "resourceAccount"
            }));
        })
        .await;

    let assignment = client(&server)
        .get_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
        .await
        .expect("get succeeds")
        .into_inner();

    mock.assert_async().await;
    assert_eq!(assignment.object_id, OBJECT_ID);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(assignment.principal_type.as_str(), "resourceAccount");
    assert!(assignment.client_ids.is_empty());
}

#[tokio::test]
async fn upsert_teams_extension_assignment_puts_principal_type_and_decodes_created_assignment() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                PUT,
                TEAMS_EXTENSION_ASSIGNMENT_PATH,
                VERSION,
                json!({ "principalType": "resourceAccount" }),
            );
            then.status(201).json_body(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "resourceAccount"
            }));
        })
        .await;

    let response = client(&server)
        .upsert_teams_extension_assignment(
            TENANT_ID,
            OBJECT_ID,
            VERSION,
            &resource_account_request(),
        )
        .await
        .expect("upsert succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 201);
    let assignment = response.into_inner();
    assert_eq!(assignment.object_id, OBJECT_ID);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(assignment.principal_type.as_str(), "resourceAccount");
    assert!(assignment.client_ids.is_empty());
}

#[tokio::test]
async fn delete_teams_extension_assignment_sends_delete_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, DELETE, TEAMS_EXTENSION_ASSIGNMENT_PATH, VERSION);
            then.status(204);
        })
        .await;

    let response = client(&server)
        .delete_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
        .await
        .expect("delete succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 204);
}

// ---------------------------------------------------------------------------
// Entra ID token exchange and assignments
// ---------------------------------------------------------------------------

#[tokio::test]
async fn exchange_entra_access_token_posts_empty_object_and_decodes_user_and_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                "/access/entra/:exchangeAccessToken",
                VERSION,
                json!({}),
            );
            then.status(200).json_body(json!({
                "identity": { "id": ENTRA_USER_ID },
                "accessToken": { "token": "token", "expiresOn": EXCHANGE_EXPIRES_ON }
            }));
        })
        .await;

    let body = types::EntraExchangeTokenRequest(serde_json::Map::new());
    let response = client(&server)
        .exchange_entra_access_token(VERSION, &body)
        .await
        .expect("exchange succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let result = response.into_inner();
    assert_eq!(result.identity.id, ENTRA_USER_ID);
    let token = result.access_token.expect("access token present");
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, exchange_expires_on());
}

#[tokio::test]
async fn list_entra_assignments_gets_collection_and_decodes_items_and_next_link() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, "/access/entra/assignments", VERSION);
            then.status(200).json_body(json!({
                "value": [
                    entra_assignment_json(OBJECT_ID, "user"),
                    entra_assignment_json(SECOND_OBJECT_ID, "user")
                ],
                "nextLink": "nextLink"
            }));
        })
        .await;

    let response = client(&server)
        .list_entra_assignments(VERSION)
        .await
        .expect("list succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.into_inner();
    assert_eq!(page.value.len(), 2);
    assert_entra_assignment(&page.value[0], OBJECT_ID, "user");
    assert_entra_assignment(&page.value[1], SECOND_OBJECT_ID, "user");
    assert_eq!(page.next_link.as_deref(), Some("nextLink"));
}

#[tokio::test]
async fn update_entra_assignments_patches_merge_patch_body_and_decodes_200_stream() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            call(when, PATCH, "/access/entra/assignments", VERSION)
                .header("content-type", "application/merge-patch+json")
                .header_count("(?i)^content-type$", "^.*$", 1)
                .json_body(bulk_update_json());
            then.status(200)
                .header("content-type", "application/json")
                .json_body(json!({
                    "value": [
                        entra_assignment_json(OBJECT_ID, "user"),
                        entra_assignment_json(SECOND_OBJECT_ID, "user")
                    ]
                }));
        })
        .await;

    let response = client(&server)
        .update_entra_assignments(VERSION, &bulk_update())
        .await
        .expect("update succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let bytes = common::collect_stream(response.into_inner()).await;
    let page: types::EntraAssignmentsResponse =
        serde_json::from_slice(&bytes).expect("200 body is an EntraAssignmentsResponse");
    assert_eq!(page.value.len(), 2);
    assert_entra_assignment(&page.value[0], OBJECT_ID, "user");
    assert_entra_assignment(&page.value[1], SECOND_OBJECT_ID, "user");
    assert_eq!(page.next_link, None);
}

#[tokio::test]
async fn update_entra_assignments_accepts_204_with_empty_stream() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            call(when, PATCH, "/access/entra/assignments", VERSION)
                .header("content-type", "application/merge-patch+json")
                .json_body(json!({ REMOVED_OBJECT_ID: null }));
            then.status(204);
        })
        .await;

    let removal = types::EntraAssignmentUpdateBulkRequest(HashMap::from([(
        REMOVED_OBJECT_ID.to_owned(),
        None,
    )]));
    let response = client(&server)
        .update_entra_assignments(VERSION, &removal)
        .await
        .expect("update succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 204);
    assert!(
        common::collect_stream(response.into_inner())
            .await
            .is_empty()
    );
}

#[test]
fn merge_patch_body_serialises_a_removal_as_json_null() {
    let value = serde_json::to_value(bulk_update()).unwrap();

    assert_eq!(value, bulk_update_json());
    let object = value.as_object().unwrap();
    assert_eq!(object.get(REMOVED_OBJECT_ID), Some(&Value::Null));
    // And back: null is a removal, an object an upsert.
    let parsed: types::EntraAssignmentUpdateBulkRequest = serde_json::from_value(value).unwrap();
    assert_eq!(parsed, bulk_update());
    assert_eq!(parsed.get(REMOVED_OBJECT_ID), Some(&None));
}

#[tokio::test]
async fn get_entra_assignment_reads_object_and_decodes_it() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, ENTRA_ASSIGNMENT_PATH, VERSION);
            then.status(200)
                .json_body(entra_assignment_json(OBJECT_ID, "user"));
        })
        .await;

    let response = client(&server)
        .get_entra_assignment(OBJECT_ID, VERSION)
        .await
        .expect("get succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    assert_entra_assignment(&response.into_inner(), OBJECT_ID, "user");
}

#[tokio::test]
async fn get_entra_assignment_keeps_unknown_principal_type() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, ENTRA_ASSIGNMENT_PATH, VERSION);
            then.status(200)
                .json_body(entra_assignment_json(OBJECT_ID, "teamsResourceAccount"));
        })
        .await;

    let assignment = client(&server)
        .get_entra_assignment(OBJECT_ID, VERSION)
        .await
        .expect("a value outside the spec's enum still decodes")
        .into_inner();

    mock.assert_async().await;
    assert_entra_assignment(&assignment, OBJECT_ID, "teamsResourceAccount");
}

/// Microsoft's example sends `principalType: "teamsResourceAccount"`, which
/// is not one of the spec's `user`/`group`/`tenant`; the open string type
/// lets it through unchanged.
#[tokio::test]
async fn upsert_entra_assignment_puts_tenant_principal_and_clients_and_decodes_it() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                PUT,
                ENTRA_ASSIGNMENT_PATH,
                VERSION,
                json!({
                    "tenantId": TENANT_ID,
                    "principalType": "teamsResourceAccount",
                    "clientIds": [CLIENT_ID]
                }),
            );
            then.status(200)
                .json_body(entra_assignment_json(OBJECT_ID, "user"));
        })
        .await;

    let response = client(&server)
        .upsert_entra_assignment(OBJECT_ID, VERSION, &entra_request("teamsResourceAccount"))
        .await
        .expect("upsert succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    assert_entra_assignment(&response.into_inner(), OBJECT_ID, "user");
}

#[tokio::test]
async fn upsert_entra_assignment_accepts_201_on_create() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                PUT,
                ENTRA_ASSIGNMENT_PATH,
                VERSION,
                json!({ "tenantId": TENANT_ID, "principalType": "group", "clientIds": [CLIENT_ID] }),
            );
            then.status(201).json_body(entra_assignment_json(OBJECT_ID, "group"));
        })
        .await;

    let response = client(&server)
        .upsert_entra_assignment(OBJECT_ID, VERSION, &entra_request("group"))
        .await
        .expect("upsert succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 201);
    assert_entra_assignment(&response.into_inner(), OBJECT_ID, "group");
}

#[tokio::test]
async fn delete_entra_assignment_sends_delete_and_accepts_204() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, DELETE, ENTRA_ASSIGNMENT_PATH, VERSION);
            then.status(204);
        })
        .await;

    let response = client(&server)
        .delete_entra_assignment(OBJECT_ID, VERSION)
        .await
        .expect("delete succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 204);
}

// ---------------------------------------------------------------------------
// Service errors: one test per operation
// ---------------------------------------------------------------------------

/// The `CommunicationError` inside an `Error::ErrorResponse` with `status`.
fn service_error<T>(
    result: Result<ResponseValue<T>, Error<types::CommunicationErrorResponse>>,
    status: u16,
) -> types::CommunicationError {
    match result {
        Err(Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), status);
            response.into_inner().error
        }
        Err(other) => panic!("expected Error::ErrorResponse, got {other}"),
        Ok(response) => panic!("expected an error, got HTTP {}", response.status()),
    }
}

/// One test: the mock answers `method path` with `status` and an error body;
/// `call` (an expression using `client`) must fail with that error.
macro_rules! service_error_test {
    (
        $name:ident: $method:ident $path:expr => $status:literal
        { code: $code:literal, message: $message:literal, target: $target:literal },
        |$client:ident| $call:expr
    ) => {
        #[tokio::test]
        async fn $name() {
            let server = MockServer::start_async().await;
            let mock = server
                .mock_async(|when, then| {
                    call(when, $method, $path, VERSION);
                    then.status($status)
                        .header("content-type", "application/json")
                        .json_body(common::error_body($code, $message, $target));
                })
                .await;
            let $client = client(&server);

            let error = service_error($call.await, $status);

            mock.assert_async().await;
            assert_eq!(error.code, $code);
            assert_eq!(error.message, $message);
            assert_eq!(error.target.as_deref(), Some($target));
            assert!(error.details.is_empty());
            assert!(error.innererror.is_none());
        }
    };
}

service_error_test!(
    create_identity_reports_400_error:
    POST "/identities" => 400
    { code: "ValidationError", message: "customId is too long.", target: "customId" },
    |c| c.create_identity(VERSION, &types::CommunicationIdentityCreateRequest::default())
);

service_error_test!(
    get_identity_reports_404_error:
    GET USER_PATH => 404
    { code: "IdentityNotFound", message: "The identity does not exist.", target: "id" },
    |c| c.get_identity(USER_ID, VERSION)
);

service_error_test!(
    delete_identity_reports_403_error:
    DELETE USER_PATH => 403
    { code: "Forbidden", message: "The caller may not delete identities.", target: "id" },
    |c| c.delete_identity(USER_ID, VERSION)
);

service_error_test!(
    revoke_access_tokens_reports_500_error:
    POST &format!("{USER_PATH}/:revokeAccessTokens") => 500
    { code: "InternalError", message: "Something went wrong.", target: "id" },
    |c| c.revoke_access_tokens(USER_ID, VERSION)
);

service_error_test!(
    exchange_teams_user_access_token_reports_401_error:
    POST "/teamsUser/:exchangeAccessToken" => 401
    { code: "InvalidAccessToken", message: "The Entra ID token is expired.", target: "token" },
    |c| c.exchange_teams_user_access_token(VERSION, &teams_user_request())
);

service_error_test!(
    issue_access_token_reports_400_error:
    POST &format!("{USER_PATH}/:issueAccessToken") => 400
    { code: "ValidationError", message: "expiresInMinutes must be between 60 and 1440.", target: "expiresInMinutes" },
    |c| c.issue_access_token(USER_ID, VERSION, &token_request(30))
);

service_error_test!(
    exchange_teams_extension_access_token_reports_401_error:
    POST "/access/teamsExtension/:exchangeAccessToken" => 401
    { code: "InvalidAccessToken", message: "The Teams Phone token has expired.", target: "token" },
    |c| c.exchange_teams_extension_access_token(
        VERSION,
        &types::TeamsExtensionExchangeTokenRequest(serde_json::Map::new()),
    )
);

service_error_test!(
    get_teams_extension_assignment_reports_404_error:
    GET TEAMS_EXTENSION_ASSIGNMENT_PATH => 404
    { code: "AssignmentNotFound", message: "No assignment for this object.", target: "objectId" },
    |c| c.get_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
);

service_error_test!(
    upsert_teams_extension_assignment_reports_409_error:
    PUT TEAMS_EXTENSION_ASSIGNMENT_PATH => 409
    { code: "Conflict", message: "The assignment is being changed.", target: "objectId" },
    |c| c.upsert_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION, &resource_account_request())
);

service_error_test!(
    delete_teams_extension_assignment_reports_403_error:
    DELETE TEAMS_EXTENSION_ASSIGNMENT_PATH => 403
    { code: "Forbidden", message: "The caller may not manage this tenant.", target: "tenantId" },
    |c| c.delete_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
);

service_error_test!(
    exchange_entra_access_token_reports_401_error:
    POST "/access/entra/:exchangeAccessToken" => 401
    { code: "InvalidAccessToken", message: "The Entra ID token is not valid.", target: "Authorization" },
    |c| c.exchange_entra_access_token(VERSION, &types::EntraExchangeTokenRequest(serde_json::Map::new()))
);

service_error_test!(
    list_entra_assignments_reports_429_error:
    GET "/access/entra/assignments" => 429
    { code: "TooManyRequests", message: "Rate limit exceeded.", target: "assignments" },
    |c| c.list_entra_assignments(VERSION)
);

service_error_test!(
    update_entra_assignments_reports_400_error:
    PATCH "/access/entra/assignments" => 400
    { code: "ValidationError", message: "clientIds is required.", target: "clientIds" },
    |c| c.update_entra_assignments(VERSION, &bulk_update())
);

service_error_test!(
    get_entra_assignment_reports_404_error:
    GET ENTRA_ASSIGNMENT_PATH => 404
    { code: "AssignmentNotFound", message: "No assignment for this object.", target: "objectId" },
    |c| c.get_entra_assignment(OBJECT_ID, VERSION)
);

service_error_test!(
    upsert_entra_assignment_reports_503_error:
    PUT ENTRA_ASSIGNMENT_PATH => 503
    { code: "ServiceUnavailable", message: "Try again later.", target: "objectId" },
    |c| c.upsert_entra_assignment(OBJECT_ID, VERSION, &entra_request("user"))
);

service_error_test!(
    delete_entra_assignment_reports_500_error:
    DELETE ENTRA_ASSIGNMENT_PATH => 500
    { code: "InternalError", message: "Something went wrong.", target: "objectId" },
    |c| c.delete_entra_assignment(OBJECT_ID, VERSION)
);

#[tokio::test]
async fn service_error_decodes_details_and_inner_error() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            call(when, PUT, ENTRA_ASSIGNMENT_PATH, VERSION);
            then.status(400).json_body(json!({
                "error": {
                    "code": "ValidationError",
                    "message": "The assignment is not valid.",
                    "target": "body",
                    "details": [
                        { "code": "Required", "message": "tenantId is required.", "target": "tenantId" },
                        { "code": "Required", "message": "clientIds is required." }
                    ],
                    "innererror": { "code": "EmptyValue", "message": "tenantId is empty." }
                }
            }));
        })
        .await;

    let result = client(&server)
        .upsert_entra_assignment(OBJECT_ID, VERSION, &entra_request("user"))
        .await;

    mock.assert_async().await;
    let error = service_error(result, 400);
    assert_eq!(error.code, "ValidationError");
    assert_eq!(error.target.as_deref(), Some("body"));
    assert_eq!(error.details.len(), 2);
    assert_eq!(error.details[0].target.as_deref(), Some("tenantId"));
    assert_eq!(error.details[1].message, "clientIds is required.");
    assert_eq!(error.details[1].target, None);
    let inner = error.innererror.expect("inner error present");
    assert_eq!(inner.code, "EmptyValue");
    assert_eq!(inner.message, "tenantId is empty.");
}

// ---------------------------------------------------------------------------
// Transport and schema
// ---------------------------------------------------------------------------

#[tokio::test]
async fn custom_transport_receives_every_operation_with_its_operation_id() {
    let server = MockServer::start_async().await;
    let token = json!({ "token": "token", "expiresOn": TOKEN_EXPIRES_ON });
    let user = json!({ "identity": { "id": USER_ID } });
    let teams_assignment =
        json!({ "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "user" });
    let entra_assignment = entra_assignment_json(OBJECT_ID, "user");
    let issue_path = format!("{USER_PATH}/:issueAccessToken");
    let revoke_path = format!("{USER_PATH}/:revokeAccessTokens");
    let routes = [
        (POST, "/identities", 201, Some(user.clone())),
        (GET, USER_PATH, 200, Some(json!({ "id": USER_ID }))),
        (DELETE, USER_PATH, 204, None),
        (POST, revoke_path.as_str(), 204, None),
        (
            POST,
            "/teamsUser/:exchangeAccessToken",
            200,
            Some(token.clone()),
        ),
        (POST, issue_path.as_str(), 200, Some(token)),
        (
            POST,
            "/access/teamsExtension/:exchangeAccessToken",
            200,
            Some(user.clone()),
        ),
        (
            GET,
            TEAMS_EXTENSION_ASSIGNMENT_PATH,
            200,
            Some(teams_assignment.clone()),
        ),
        (
            PUT,
            TEAMS_EXTENSION_ASSIGNMENT_PATH,
            201,
            Some(teams_assignment),
        ),
        (DELETE, TEAMS_EXTENSION_ASSIGNMENT_PATH, 204, None),
        (POST, "/access/entra/:exchangeAccessToken", 200, Some(user)),
        (
            GET,
            "/access/entra/assignments",
            200,
            Some(json!({ "value": [] })),
        ),
        (PATCH, "/access/entra/assignments", 204, None),
        (
            GET,
            ENTRA_ASSIGNMENT_PATH,
            200,
            Some(entra_assignment.clone()),
        ),
        (PUT, ENTRA_ASSIGNMENT_PATH, 201, Some(entra_assignment)),
        (DELETE, ENTRA_ASSIGNMENT_PATH, 204, None),
    ];
    let mut mocks = Vec::new();
    for (method, path, status, body) in routes {
        let mock = server
            .mock_async(|when, then| {
                when.method(method).path(path);
                let then = then.status(status);
                if let Some(body) = body {
                    then.json_body(body);
                }
            })
            .await;
        mocks.push(mock);
    }

    let transport = common::RecordingTransport::new();
    let client = Client::new(&server.base_url(), transport.inner());
    let default_create = types::CommunicationIdentityCreateRequest::default();
    client
        .create_identity(VERSION, &default_create)
        .await
        .unwrap();
    client.get_identity(USER_ID, VERSION).await.unwrap();
    client.delete_identity(USER_ID, VERSION).await.unwrap();
    client.revoke_access_tokens(USER_ID, VERSION).await.unwrap();
    client
        .exchange_teams_user_access_token(VERSION, &teams_user_request())
        .await
        .unwrap();
    client
        .issue_access_token(USER_ID, VERSION, &token_request(60))
        .await
        .unwrap();
    let empty = types::TeamsExtensionExchangeTokenRequest(serde_json::Map::new());
    client
        .exchange_teams_extension_access_token(VERSION, &empty)
        .await
        .unwrap();
    client
        .get_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
        .await
        .unwrap();
    client
        .upsert_teams_extension_assignment(
            TENANT_ID,
            OBJECT_ID,
            VERSION,
            &resource_account_request(),
        )
        .await
        .unwrap();
    client
        .delete_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
        .await
        .unwrap();
    let empty = types::EntraExchangeTokenRequest(serde_json::Map::new());
    client
        .exchange_entra_access_token(VERSION, &empty)
        .await
        .unwrap();
    client.list_entra_assignments(VERSION).await.unwrap();
    client
        .update_entra_assignments(VERSION, &bulk_update())
        .await
        .unwrap();
    client
        .get_entra_assignment(OBJECT_ID, VERSION)
        .await
        .unwrap();
    client
        .upsert_entra_assignment(OBJECT_ID, VERSION, &entra_request("user"))
        .await
        .unwrap();
    client
        .delete_entra_assignment(OBJECT_ID, VERSION)
        .await
        .unwrap();

    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }
    let json = Some("application/json");
    common::assert_seen(
        &transport.seen(),
        VERSION,
        &[
            ("create_identity", "POST", "/identities", json),
            ("get_identity", "GET", USER_PATH, None),
            ("delete_identity", "DELETE", USER_PATH, None),
            ("revoke_access_tokens", "POST", &revoke_path, None),
            (
                "exchange_teams_user_access_token",
                "POST",
                "/teamsUser/:exchangeAccessToken",
                json,
            ),
            ("issue_access_token", "POST", &issue_path, json),
            (
                "exchange_teams_extension_access_token",
                "POST",
                "/access/teamsExtension/:exchangeAccessToken",
                json,
            ),
            (
                "get_teams_extension_assignment",
                "GET",
                TEAMS_EXTENSION_ASSIGNMENT_PATH,
                None,
            ),
            (
                "upsert_teams_extension_assignment",
                "PUT",
                TEAMS_EXTENSION_ASSIGNMENT_PATH,
                json,
            ),
            (
                "delete_teams_extension_assignment",
                "DELETE",
                TEAMS_EXTENSION_ASSIGNMENT_PATH,
                None,
            ),
            (
                "exchange_entra_access_token",
                "POST",
                "/access/entra/:exchangeAccessToken",
                json,
            ),
            (
                "list_entra_assignments",
                "GET",
                "/access/entra/assignments",
                None,
            ),
            // The hooks have already swapped the content type when the
            // transport sees the request.
            (
                "update_entra_assignments",
                "PATCH",
                "/access/entra/assignments",
                Some("application/merge-patch+json"),
            ),
            ("get_entra_assignment", "GET", ENTRA_ASSIGNMENT_PATH, None),
            (
                "upsert_entra_assignment",
                "PUT",
                ENTRA_ASSIGNMENT_PATH,
                json,
            ),
            (
                "delete_entra_assignment",
                "DELETE",
                ENTRA_ASSIGNMENT_PATH,
                None,
            ),
        ],
    );
}

#[cfg(feature = "schemars")]
#[test]
fn types_derive_json_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(
        types::CommunicationIdentityAccessTokenResult
    ))
    .unwrap();
    assert_eq!(schema["required"], json!(["identity"]));
    assert!(schema["properties"]["accessToken"].is_object());
    let token = &schema["definitions"]["CommunicationIdentityAccessToken"];
    assert_eq!(token["properties"]["token"]["type"], "string");
    let identity = &schema["definitions"]["CommunicationIdentity"];
    assert_eq!(
        identity["properties"]["lastTokenIssuedAt"]["format"],
        "date-time"
    );
    assert_eq!(identity["required"], json!(["id"]));

    let assignment = serde_json::to_value(schemars::schema_for!(types::EntraAssignment)).unwrap();
    assert_eq!(
        assignment["required"],
        json!(["clientIds", "objectId", "principalType", "tenantId"])
    );
    assert_eq!(assignment["properties"]["clientIds"]["type"], "array");
}
