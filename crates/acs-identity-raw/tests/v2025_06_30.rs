//! Wire-level tests of the generated `v2025_06_30` client: each of its 9
//! operations against a local `httpmock` server, on success and on a service
//! error, plus the `Transport` seam and the `JsonSchema` derive.

mod common;

use acs_identity_raw::v2025_06_30::{Client, types};
use acs_identity_raw::{Error, Inner, ResponseValue};
use common::example::*;
use common::{bodiless_call, call, json_call, utc};
use httpmock::prelude::*;
use serde_json::json;

const VERSION: &str = "2025-06-30";

/// `expiresOn` of the 2026-09-23 examples (same shapes as 2025-06-30).
const EXPIRES_ON: &str = "2025-07-10T21:39:39.3244584+00:00";

fn expires_on() -> chrono::DateTime<chrono::Utc> {
    utc((2025, 7, 10), (21, 39, 39), 324_458_400)
}

fn client(server: &MockServer) -> Client {
    Client::new(&server.base_url(), Inner::plain())
}

fn scopes(names: &[&str]) -> Vec<types::CommunicationIdentityTokenScope> {
    names.iter().map(|name| name.parse().unwrap()).collect()
}

fn scope_names(scopes: &[types::CommunicationIdentityTokenScope]) -> Vec<&str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
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
                "accessToken": { "token": "token", "expiresOn": EXPIRES_ON }
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
    let token = result.access_token.expect("access token present");
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, expires_on());
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
async fn get_teams_extension_assignment_keeps_unknown_principal_type() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, GET, TEAMS_EXTENSION_ASSIGNMENT_PATH, VERSION);
            then.status(200).json_body(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "teamsResourceAccount",
                "clientIds": [CLIENT_ID]
            }));
        })
        .await;

    let assignment = client(&server)
        .get_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
        .await
        .expect("a value outside the spec's enum still decodes")
        .into_inner();

    mock.assert_async().await;
    assert_eq!(assignment.principal_type.as_str(), "teamsResourceAccount");
    assert_eq!(assignment.client_ids, [CLIENT_ID]);
}

#[tokio::test]
async fn upsert_teams_extension_assignment_puts_principal_type_and_decodes_created_assignment() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            // `clientIds` is empty, so it is left out rather than sent as [].
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
async fn upsert_teams_extension_assignment_sends_client_ids_and_accepts_200_on_replace() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                PUT,
                TEAMS_EXTENSION_ASSIGNMENT_PATH,
                VERSION,
                json!({ "principalType": "user", "clientIds": [CLIENT_ID] }),
            );
            then.status(200).json_body(json!({
                "objectId": OBJECT_ID,
                "tenantId": TENANT_ID,
                "principalType": "user",
                "clientIds": [CLIENT_ID]
            }));
        })
        .await;

    let body = types::TeamsExtensionAssignmentCreateOrUpdateRequest {
        principal_type: types::TeamsExtensionPrincipalType("user".to_owned()),
        client_ids: vec![CLIENT_ID.to_owned()],
    };
    let response = client(&server)
        .upsert_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION, &body)
        .await
        .expect("upsert succeeds");

    mock.assert_async().await;
    assert_eq!(response.status().as_u16(), 200);
    let assignment = response.into_inner();
    assert_eq!(assignment.object_id, OBJECT_ID);
    assert_eq!(assignment.tenant_id, TENANT_ID);
    assert_eq!(assignment.principal_type.as_str(), "user");
    assert_eq!(assignment.client_ids, [CLIENT_ID]);
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
// Identities and their tokens
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_identity_posts_scopes_and_lifetime_and_decodes_user_and_token() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                "/identities",
                VERSION,
                json!({ "createTokenWithScopes": ALL_SCOPES, "expiresInMinutes": 60 }),
            );
            then.status(201).json_body(json!({
                "identity": { "id": USER_ID },
                "accessToken": { "token": "token", "expiresOn": EXPIRES_ON }
            }));
        })
        .await;

    let body = types::CommunicationIdentityCreateRequest {
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
    let token = result.access_token.expect("access token present");
    assert_eq!(token.token, "token");
    assert_eq!(token.expires_on, expires_on());
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
    assert_eq!(result.access_token, None);
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
async fn delete_identity_percent_encodes_slash_space_and_percent_in_the_id() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            bodiless_call(when, DELETE, "/identities/8:acs:a%2Fb%20c%25d", VERSION);
            then.status(204);
        })
        .await;

    client(&server)
        .delete_identity("8:acs:a/b c%d", VERSION)
        .await
        .expect("delete succeeds");

    mock.assert_async().await;
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
                .json_body(json!({ "token": "token", "expiresOn": EXPIRES_ON }));
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
    assert_eq!(token.expires_on, expires_on());
}

/// A request without `expiresInMinutes` leaves it out, so the service applies
/// its own default (1440).
#[tokio::test]
async fn issue_access_token_without_lifetime_leaves_the_field_out() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            json_call(
                when,
                POST,
                &format!("{USER_PATH}/:issueAccessToken"),
                VERSION,
                json!({ "scopes": ["voip"] }),
            );
            then.status(200)
                .json_body(json!({ "token": "token", "expiresOn": EXPIRES_ON }));
        })
        .await;

    let body: types::CommunicationIdentityAccessTokenRequest =
        serde_json::from_value(json!({ "scopes": ["voip"] })).unwrap();
    assert_eq!(body.expires_in_minutes, None);
    assert_eq!(scope_names(&body.scopes), ["voip"]);
    client(&server)
        .issue_access_token(USER_ID, VERSION, &body)
        .await
        .expect("issue succeeds");

    mock.assert_async().await;
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
                "expiresOn": EXPIRES_ON
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
    assert_eq!(token.expires_on, expires_on());
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
    upsert_teams_extension_assignment_reports_400_error:
    PUT TEAMS_EXTENSION_ASSIGNMENT_PATH => 400
    { code: "InvalidRequest", message: "principalType is not supported.", target: "principalType" },
    |c| c.upsert_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION, &resource_account_request())
);

service_error_test!(
    delete_teams_extension_assignment_reports_403_error:
    DELETE TEAMS_EXTENSION_ASSIGNMENT_PATH => 403
    { code: "Forbidden", message: "The caller may not manage this tenant.", target: "tenantId" },
    |c| c.delete_teams_extension_assignment(TENANT_ID, OBJECT_ID, VERSION)
);

service_error_test!(
    create_identity_reports_429_error:
    POST "/identities" => 429
    { code: "TooManyRequests", message: "Rate limit exceeded.", target: "identities" },
    |c| c.create_identity(VERSION, &types::CommunicationIdentityCreateRequest::default())
);

service_error_test!(
    delete_identity_reports_404_error:
    DELETE USER_PATH => 404
    { code: "IdentityNotFound", message: "The identity does not exist.", target: "id" },
    |c| c.delete_identity(USER_ID, VERSION)
);

service_error_test!(
    issue_access_token_reports_400_error:
    POST &format!("{USER_PATH}/:issueAccessToken") => 400
    { code: "ValidationError", message: "expiresInMinutes must be between 60 and 1440.", target: "expiresInMinutes" },
    |c| c.issue_access_token(USER_ID, VERSION, &token_request(30))
);

service_error_test!(
    revoke_access_tokens_reports_500_error:
    POST &format!("{USER_PATH}/:revokeAccessTokens") => 500
    { code: "InternalError", message: "Something went wrong.", target: "id" },
    |c| c.revoke_access_tokens(USER_ID, VERSION)
);

service_error_test!(
    exchange_teams_user_access_token_reports_503_error:
    POST "/teamsUser/:exchangeAccessToken" => 503
    { code: "ServiceUnavailable", message: "Try again later.", target: "token" },
    |c| c.exchange_teams_user_access_token(VERSION, &teams_user_request())
);

/// A 5xx whose body is not a `CommunicationErrorResponse` (say, a gateway's
/// HTML page) does not become `ErrorResponse`: decoding fails, and the
/// resulting `InvalidResponsePayload` no longer carries the status.
#[tokio::test]
async fn error_status_with_non_json_body_becomes_invalid_payload_without_status() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            call(when, DELETE, USER_PATH, VERSION);
            then.status(502)
                .header("content-type", "text/html")
                .body("<html>Bad Gateway</html>");
        })
        .await;

    let result = client(&server).delete_identity(USER_ID, VERSION).await;

    mock.assert_async().await;
    let error = result.expect_err("a 502 is an error");
    assert_eq!(error.status(), None);
    match error {
        Error::InvalidResponsePayload(bytes, _) => {
            assert_eq!(&bytes[..], b"<html>Bad Gateway</html>");
        }
        other => panic!("expected InvalidResponsePayload, got {other}"),
    }
}

// ---------------------------------------------------------------------------
// Transport and schema
// ---------------------------------------------------------------------------

#[tokio::test]
async fn custom_transport_receives_every_operation_with_its_operation_id() {
    let server = MockServer::start_async().await;
    let token = json!({ "token": "token", "expiresOn": EXPIRES_ON });
    let assignment =
        json!({ "objectId": OBJECT_ID, "tenantId": TENANT_ID, "principalType": "user" });
    let issue_path = format!("{USER_PATH}/:issueAccessToken");
    let revoke_path = format!("{USER_PATH}/:revokeAccessTokens");
    let routes = [
        (
            POST,
            "/access/teamsExtension/:exchangeAccessToken",
            200,
            Some(json!({ "identity": { "id": TEAMS_EXTENSION_USER_ID } })),
        ),
        (
            GET,
            TEAMS_EXTENSION_ASSIGNMENT_PATH,
            200,
            Some(assignment.clone()),
        ),
        (PUT, TEAMS_EXTENSION_ASSIGNMENT_PATH, 201, Some(assignment)),
        (DELETE, TEAMS_EXTENSION_ASSIGNMENT_PATH, 204, None),
        (
            POST,
            "/identities",
            201,
            Some(json!({ "identity": { "id": USER_ID } })),
        ),
        (DELETE, USER_PATH, 204, None),
        (POST, issue_path.as_str(), 200, Some(token.clone())),
        (POST, revoke_path.as_str(), 204, None),
        (POST, "/teamsUser/:exchangeAccessToken", 200, Some(token)),
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
    client
        .create_identity(
            VERSION,
            &types::CommunicationIdentityCreateRequest::default(),
        )
        .await
        .unwrap();
    client.delete_identity(USER_ID, VERSION).await.unwrap();
    client
        .issue_access_token(USER_ID, VERSION, &token_request(60))
        .await
        .unwrap();
    client.revoke_access_tokens(USER_ID, VERSION).await.unwrap();
    client
        .exchange_teams_user_access_token(VERSION, &teams_user_request())
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
            ("create_identity", "POST", "/identities", json),
            ("delete_identity", "DELETE", USER_PATH, None),
            ("issue_access_token", "POST", &issue_path, json),
            ("revoke_access_tokens", "POST", &revoke_path, None),
            (
                "exchange_teams_user_access_token",
                "POST",
                "/teamsUser/:exchangeAccessToken",
                json,
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

    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["identity"]));
    assert!(schema["properties"]["identity"].is_object());
    assert!(schema["properties"]["accessToken"].is_object());
    let token = &schema["definitions"]["CommunicationIdentityAccessToken"];
    assert_eq!(token["properties"]["token"]["type"], "string");
    assert_eq!(token["properties"]["expiresOn"]["format"], "date-time");
    assert_eq!(token["required"], json!(["expiresOn", "token"]));
}
