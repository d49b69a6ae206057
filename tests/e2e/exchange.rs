use acs_identity::{GetTokenForTeamsUserOptions, TeamsExtensionPrincipalType};
use acs_identity_tests::{entra_token, epoch_in, preview_client, start};
use serde_json::json;

const TENANT: &str = "3f14cf17-84d5-42c2-8689-a6365c474b4e";
const OBJECT: &str = "350adb03-7be9-4846-b078-35adb0d0e119";
const APP: &str = "07474a86-625a-452f-977b-db4e13f21260";

#[tokio::test]
async fn teams_user_token_is_checked_by_its_claims() {
    let (_emulator, client) = start().await;
    let exp = epoch_in(3000);
    let teams = entra_token(
        json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": APP, "oid": OBJECT, "tid": TENANT, "exp": exp}),
    );
    let token = client
        .get_token_for_teams_user(&GetTokenForTeamsUserOptions::new(&teams, APP, OBJECT))
        .await
        .expect("exchange");
    assert_eq!(
        token.expires_on().timestamp(),
        exp,
        "the ACS token expires with the Teams token"
    );

    let err = client
        .get_token_for_teams_user(&GetTokenForTeamsUserOptions::new(
            &teams,
            "another-app",
            OBJECT,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(400), Some("ValidationError"))
    );
    let acs_identity::Error::Service(service) = &err else {
        panic!("{err}")
    };
    assert_eq!(service.target.as_deref(), Some("appId"));

    let expired = entra_token(
        json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": APP, "oid": OBJECT, "tid": TENANT, "exp": epoch_in(-10)}),
    );
    let err = client
        .get_token_for_teams_user(&GetTokenForTeamsUserOptions::new(&expired, APP, OBJECT))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("InvalidAccessToken"))
    );
}

#[tokio::test]
async fn teams_extension_exchange_needs_an_assignment_with_the_app() {
    let (_emulator, client) = start().await;
    let user_token = entra_token(
        json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": APP, "oid": OBJECT, "tid": TENANT, "exp": epoch_in(3600)}),
    );
    let err = client
        .exchange_teams_extension_token(&user_token)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");

    let upserted = client
        .upsert_teams_extension_assignment(TENANT, OBJECT, TeamsExtensionPrincipalType::User, [APP])
        .await
        .unwrap();
    assert!(upserted.created);
    let exchanged = client
        .exchange_teams_extension_token(&user_token)
        .await
        .unwrap();
    assert!(
        exchanged
            .user
            .id()
            .ends_with(&format!("_{TENANT}_{OBJECT}")),
        "{}",
        exchanged.user
    );
}

#[tokio::test]
async fn entra_exchange_accepts_user_tenant_and_group_assignments() {
    let (emulator, _) = start().await;
    let client = preview_client(&emulator);
    let token = |oid: &str| {
        entra_token(
            json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": APP, "oid": oid, "tid": TENANT, "exp": epoch_in(3600)}),
        )
    };
    assert_eq!(
        client
            .exchange_entra_token(&token(OBJECT))
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );

    use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    client
        .upsert_entra_assignment(
            OBJECT,
            EntraAssignmentSpec::new(TENANT, EntraPrincipalType::User, [APP]),
        )
        .await
        .unwrap();
    let exchanged = client.exchange_entra_token(&token(OBJECT)).await.unwrap();
    assert!(
        exchanged
            .user
            .id()
            .contains(&format!("_wf_{TENANT}_{OBJECT}"))
    );

    client
        .upsert_entra_assignment(
            "group-1",
            EntraAssignmentSpec::new(TENANT, EntraPrincipalType::Group, [APP]),
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .exchange_entra_token(&token("member"))
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    emulator.set_group_members("group-1", ["member"]);
    client
        .exchange_entra_token(&token("member"))
        .await
        .expect("group member");

    client
        .upsert_entra_assignment(
            TENANT,
            EntraAssignmentSpec::new(TENANT, EntraPrincipalType::Tenant, [APP]),
        )
        .await
        .unwrap();
    client
        .exchange_entra_token(&token("anyone"))
        .await
        .expect("tenant-wide");
}
