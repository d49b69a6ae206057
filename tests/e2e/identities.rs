use std::time::Duration;

use acs_identity::{CommunicationIdentityClient, Error, TokenScope};
use acs_identity_tests::{preview_client, start};

#[tokio::test]
async fn user_lifecycle_create_token_revoke_delete() {
    let (emulator, client) = start().await;
    let created = client
        .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
        .expires_in(Duration::from_secs(60 * 60))
        .await
        .expect("create with token");
    assert!(created.user.id().starts_with("8:acs:"));
    let lifetime = created.access_token.expires_on() - chrono::Utc::now();
    assert!(
        lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::minutes(60),
        "{lifetime}"
    );
    assert!(emulator.is_token_valid(created.access_token.token()));

    let second = client
        .get_token(&created.user, [TokenScope::ChatJoin])
        .await
        .expect("another token");
    assert!(emulator.is_token_valid(second.token()));

    client.revoke_tokens(&created.user).await.expect("revoke");
    assert!(!emulator.is_token_valid(created.access_token.token()));
    assert!(!emulator.is_token_valid(second.token()));
    let after = client
        .get_token(&created.user, [TokenScope::Voip])
        .await
        .expect("token after revoke");
    assert!(
        emulator.is_token_valid(after.token()),
        "tokens issued after a revoke are valid"
    );

    client.delete_user(&created.user).await.expect("delete");
    assert!(!emulator.is_token_valid(after.token()));
    let err = client
        .get_token(&created.user, [TokenScope::Voip])
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.code(), Some("IdentityNotFound"));
    let err = client.delete_user(&created.user).await.unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn lifetime_outside_the_service_range_is_refused_before_sending() {
    let (emulator, client) = start().await;
    let user = client.create_user().await.unwrap();
    let before = emulator.stats().requests;
    let err = client
        .get_token(&user, [TokenScope::Chat])
        .expires_in(Duration::from_secs(59 * 60))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "expires_in",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(emulator.stats().requests, before, "nothing was sent");
}

#[tokio::test]
async fn preview_custom_id_is_idempotent_and_get_user_reads_it_back() {
    let (emulator, _) = start().await;
    let client = preview_client(&emulator);
    let a = client
        .create_user()
        .custom_id("alice@contoso.com")
        .await
        .unwrap();
    let b = client
        .create_user_and_token([TokenScope::Chat])
        .custom_id("alice@contoso.com")
        .await
        .unwrap();
    assert_eq!(a, b.user);
    let detail = client.get_user(&a).await.unwrap();
    assert_eq!(detail.user, a);
    assert_eq!(detail.custom_id.as_deref(), Some("alice@contoso.com"));
    let issued = detail.last_token_issued_at.expect("a token was issued");
    assert!((chrono::Utc::now() - issued) < chrono::Duration::minutes(1));
    client.delete_user(&a).await.unwrap();
    assert!(client.get_user(&a).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn stable_client_pinned_to_an_older_version_works_for_the_basics() {
    let emulator = acs_identity_emulator::Emulator::builder()
        .start()
        .await
        .unwrap();
    let client =
        CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
            .unwrap()
            .api_version("2023-10-01")
            .build()
            .unwrap();
    let user = client.create_user().await.unwrap();
    client.get_token(&user, [TokenScope::Voip]).await.unwrap();
    let err = client
        .get_teams_extension_assignment("t", "o")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(400), Some("UnsupportedApiVersion")),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_401_and_not_retried() {
    let emulator = acs_identity_emulator::Emulator::builder()
        .start()
        .await
        .unwrap();
    let conn = format!("endpoint={};accesskey=d3Jvbmcta2V5", emulator.endpoint());
    let client = CommunicationIdentityClient::from_connection_string(&conn).unwrap();
    let err = client.create_user().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(emulator.stats().requests, 1);
    assert_eq!(emulator.stats().unauthorized, 1);
}

/// A fixed Entra token, as a managed identity or the Azure CLI would give.
#[derive(Debug)]
struct FixedEntra(String);

impl acs_identity::TokenCredential for FixedEntra {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
    ) -> acs_identity::BoxFuture<'a, Result<acs_identity::EntraToken, acs_identity::CredentialError>>
    {
        let expires_on = std::time::SystemTime::now() + Duration::from_secs(3600);
        Box::pin(async move { Ok(acs_identity::EntraToken::new(self.0.clone(), expires_on)) })
    }
}

#[tokio::test]
async fn entra_authenticated_clients_need_a_token_the_emulator_signed() {
    let (emulator, _) = start().await;
    let client = |token: String| {
        CommunicationIdentityClient::builder(&emulator.endpoint())
            .token_credential(FixedEntra(token))
            .retry(acs_identity::RetryOptions::none())
            .build()
            .expect("client builds")
    };
    let user = client(emulator.management_token())
        .create_user()
        .await
        .expect("a verified management token creates users");
    // The same claims, unsigned (alg none): refused, nothing written.
    let signed = emulator.management_token();
    let payload = signed.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let err = client(unsigned).delete_user(&user).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let forged_aud = acs_identity_tests::entra_token(serde_json::json!({
        "aud": "https://communication.azure.com",
        "exp": acs_identity_tests::epoch_in(3600),
    }));
    let err = client(forged_aud).create_user().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    client(emulator.management_token())
        .delete_user(&user)
        .await
        .expect("the user was still there");
}
