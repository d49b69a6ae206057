//! Every operation's future is `Send` (so it can be spawned on a
//! multi-threaded runtime), and the clients are `Clone + Send + Sync`.
//! These checks are compile-time: the test fails to build if one is not.

use std::future::IntoFuture;

use acs_identity::{
    CommunicationIdentityClient, CommunicationUserIdentifier, EntraAssignmentSpec,
    EntraPrincipalType, GetTokenForTeamsUserOptions, TeamsExtensionPrincipalType, TokenScope,
    preview,
};

fn send<T: Send>(_: &T) -> usize {
    std::mem::size_of::<T>()
}

fn send_future<F: IntoFuture>(f: F) -> usize
where
    F::IntoFuture: Send,
{
    let f = f.into_future();
    send(&f)
}

#[test]
fn every_operation_future_is_send() {
    let conn = "endpoint=http://127.0.0.1:9/;accesskey=c2VjcmV0";
    let client = CommunicationIdentityClient::from_connection_string(conn).unwrap();
    let preview = preview::CommunicationIdentityClient::from_connection_string(conn).unwrap();
    let user = CommunicationUserIdentifier::new("8:acs:x").unwrap();
    let options = GetTokenForTeamsUserOptions::new("t", "a", "u");
    let spec = || EntraAssignmentSpec::new("t", EntraPrincipalType::User, ["a"]);
    // Futures are created, checked and dropped without being polled.
    let sizes = [
        send_future(client.create_user()),
        send_future(client.create_user_and_token([TokenScope::Chat])),
        send_future(client.get_token(&user, [TokenScope::Chat])),
        send_future(client.revoke_tokens(&user)),
        send_future(client.delete_user(&user)),
        send_future(client.get_token_for_teams_user(&options)),
        send_future(client.exchange_teams_extension_token("t")),
        send_future(client.get_teams_extension_assignment("t", "o")),
        send_future(client.upsert_teams_extension_assignment(
            "t",
            "o",
            TeamsExtensionPrincipalType::User,
            ["a"],
        )),
        send_future(client.delete_teams_extension_assignment("t", "o")),
        send_future(preview.create_user().custom_id("c")),
        send_future(
            preview
                .create_user_and_token([TokenScope::Voip])
                .custom_id("c"),
        ),
        send_future(preview.get_user(&user)),
        send_future(preview.exchange_entra_token("t")),
        send_future(preview.get_entra_assignment("o")),
        send_future(preview.upsert_entra_assignment("o", spec())),
        send_future(preview.delete_entra_assignment("o")),
        send_future(preview.update_entra_assignments([("o".to_string(), Some(spec()))])),
    ];
    assert!(sizes.iter().all(|s| *s > 0));
    let stream = preview.list_entra_assignments();
    assert!(send(&stream) > 0);
}
