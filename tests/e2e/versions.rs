//! One list of api-versions: what `cargo xtask regen` derives from `spec/`
//! into the raw crate is what the client offers and what the emulator
//! serves, operation by operation.

use std::time::SystemTime;

use acs_identity::AccessKey;
use acs_identity::raw::{API_VERSIONS, PREVIEW_VERSIONS, STABLE_VERSIONS};
use acs_identity_emulator::Emulator;

/// Every operation's method and path, by the generated method name.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("create_identity", "POST", "/identities"),
    ("get_identity", "GET", "/identities/8:acs:someone"),
    ("delete_identity", "DELETE", "/identities/8:acs:someone"),
    (
        "issue_access_token",
        "POST",
        "/identities/8:acs:someone/:issueAccessToken",
    ),
    (
        "revoke_access_tokens",
        "POST",
        "/identities/8:acs:someone/:revokeAccessTokens",
    ),
    (
        "exchange_teams_user_access_token",
        "POST",
        "/teamsUser/:exchangeAccessToken",
    ),
    (
        "exchange_teams_extension_access_token",
        "POST",
        "/access/teamsExtension/:exchangeAccessToken",
    ),
    (
        "get_teams_extension_assignment",
        "GET",
        "/access/teamsExtension/tenants/t/assignments/o",
    ),
    (
        "upsert_teams_extension_assignment",
        "PUT",
        "/access/teamsExtension/tenants/t/assignments/o",
    ),
    (
        "delete_teams_extension_assignment",
        "DELETE",
        "/access/teamsExtension/tenants/t/assignments/o",
    ),
    (
        "exchange_entra_access_token",
        "POST",
        "/access/entra/:exchangeAccessToken",
    ),
    ("list_entra_assignments", "GET", "/access/entra/assignments"),
    (
        "update_entra_assignments",
        "PATCH",
        "/access/entra/assignments",
    ),
    ("get_entra_assignment", "GET", "/access/entra/assignments/o"),
    (
        "upsert_entra_assignment",
        "PUT",
        "/access/entra/assignments/o",
    ),
    (
        "delete_entra_assignment",
        "DELETE",
        "/access/entra/assignments/o",
    ),
];

/// The exchanges that authenticate with the user's own token.
const USER_TOKEN: &[&str] = &[
    "exchange_teams_extension_access_token",
    "exchange_entra_access_token",
];

#[test]
fn the_client_and_the_emulator_use_the_generated_lists() {
    assert_eq!(acs_identity::STABLE_VERSIONS, STABLE_VERSIONS);
    assert_eq!(acs_identity::PREVIEW_VERSIONS, PREVIEW_VERSIONS);
    assert_eq!(acs_identity_emulator::STABLE_VERSIONS, STABLE_VERSIONS);
    assert_eq!(acs_identity_emulator::PREVIEW_VERSIONS, PREVIEW_VERSIONS);
    assert!(STABLE_VERSIONS.contains(&acs_identity::STABLE_DEFAULT));
    assert!(PREVIEW_VERSIONS.contains(&acs_identity::PREVIEW_DEFAULT));
    let all: Vec<&str> = API_VERSIONS.iter().map(|v| v.version).collect();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(all, sorted, "oldest first");
    // The preview has every operation there is.
    let preview = API_VERSIONS.iter().find(|v| v.preview).unwrap();
    assert_eq!(preview.operations.len(), OPERATIONS.len());
    assert!(OPERATIONS.iter().all(|(op, ..)| preview.has(op)));
}

#[tokio::test]
async fn the_emulator_serves_exactly_the_operations_of_each_version() {
    let emulator = Emulator::builder().start().await.unwrap();
    let key = AccessKey::new(emulator.access_key()).unwrap();
    let user_token = acs_identity_tests::entra_token(serde_json::json!({
        "appid": "app", "oid": "o", "tid": "t", "exp": acs_identity_tests::epoch_in(3600)
    }));
    let http = reqwest::Client::new();
    for version in API_VERSIONS {
        for (op, method, path) in OPERATIONS {
            let url: url::Url = format!(
                "{}{}?api-version={}",
                emulator.endpoint().trim_end_matches('/'),
                path,
                version.version
            )
            .parse()
            .unwrap();
            let body = b"{}";
            let mut request = http
                .request(method.parse().unwrap(), url.clone())
                .header("content-type", "application/json")
                .body(body.to_vec());
            if USER_TOKEN.contains(op) {
                request = request.bearer_auth(&user_token);
            } else {
                let signed = acs_identity::hmac::sign(method, &url, body, SystemTime::now(), &key);
                request = request
                    .header("x-ms-date", signed.date)
                    .header("x-ms-content-sha256", signed.content_hash)
                    .header("authorization", signed.authorization);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let unsupported = status == 400 && text.contains("UnsupportedApiVersion");
            assert_eq!(
                unsupported,
                !version.has(op),
                "{op} in {}: {status} {text}",
                version.version
            );
        }
    }
}
