//! Many clients at once against one emulator: nothing acknowledged is lost.

use std::collections::HashSet;

use acs_identity::{CommunicationUserIdentifier, TokenScope};
use acs_identity_tests::{preview_client, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_mixed_operations_are_all_visible_afterwards() {
    let (emulator, client) = start().await;
    let preview = preview_client(&emulator);
    // Each task works on users of its own: create with a token, then one of
    // keep / revoke / delete, and reports what was acknowledged.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (client, preview) = (client.clone(), preview.clone());
        tasks.spawn(async move {
            let created = client
                .create_user_and_token([TokenScope::Chat])
                .await
                .expect("create");
            let custom = format!("user-{i}");
            let durable = preview
                .create_user()
                .custom_id(&custom)
                .await
                .expect("create with custom id");
            let action = match i % 3 {
                0 => "keep",
                1 => {
                    client.revoke_tokens(&created.user).await.expect("revoke");
                    "revoke"
                }
                _ => {
                    client.delete_user(&created.user).await.expect("delete");
                    "delete"
                }
            };
            (created, custom, durable, action)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.expect("task"));
    }
    assert_eq!(results.len(), 64);

    let mut ids: HashSet<CommunicationUserIdentifier> = HashSet::new();
    for (created, custom, durable, action) in &results {
        assert!(ids.insert(created.user.clone()), "ids are unique");
        let valid = emulator.is_token_valid(created.access_token.token());
        match *action {
            "keep" => {
                assert!(valid, "a kept user's token is valid");
                preview
                    .get_user(&created.user)
                    .await
                    .expect("a kept user is there");
            }
            "revoke" => {
                assert!(!valid, "a revoke was lost");
                preview
                    .get_user(&created.user)
                    .await
                    .expect("a revoked user is still there");
            }
            _ => {
                assert!(!valid);
                assert!(
                    preview
                        .get_user(&created.user)
                        .await
                        .unwrap_err()
                        .is_not_found(),
                    "a delete was lost"
                );
            }
        }
        let again = preview.create_user().custom_id(custom).await.unwrap();
        assert_eq!(&again, durable, "custom ids stay mapped");
    }
}
