//! The client over https to an emulator serving `--tls`, trusting the
//! emulator's certificate in its own reqwest client.

use acs_identity::{CommunicationIdentityClient, TokenScope};
use acs_identity_emulator::{Emulator, TlsCertificate};

#[tokio::test]
async fn the_client_works_over_tls_with_the_certificate_in_its_trust_store() {
    let emulator = Emulator::builder()
        .tls(TlsCertificate::Generated { dir: None })
        .start()
        .await
        .unwrap();
    let conn = emulator.connection_string();
    assert!(conn.starts_with("endpoint=https://"), "{conn}");
    let trusted =
        reqwest::Certificate::from_pem(emulator.certificate_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .build()
        .unwrap();
    let client = CommunicationIdentityClient::builder_from_connection_string(&conn)
        .unwrap()
        .http_client(http)
        .build()
        .unwrap();
    let created = client
        .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
        .await
        .unwrap();
    let (user, token) = (created.user, created.access_token);
    assert!(emulator.is_token_valid(token.token()));
    client.revoke_tokens(&user).await.unwrap();
    assert!(!emulator.is_token_valid(token.token()));
    client.delete_user(&user).await.unwrap();

    // Without the certificate, the client's default TLS check refuses it.
    let untrusting = CommunicationIdentityClient::builder_from_connection_string(&conn)
        .unwrap()
        .retry(acs_identity::RetryOptions::none())
        .build()
        .unwrap();
    let refused = untrusting.create_user().await.unwrap_err();
    assert!(
        matches!(refused, acs_identity::Error::Transport(_)),
        "{refused:?}"
    );
    assert!(
        emulator.identities().is_empty(),
        "the refused call created nothing"
    );
}
