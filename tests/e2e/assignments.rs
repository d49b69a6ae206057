use acs_identity::{EntraAssignmentSpec, EntraPrincipalType, TeamsExtensionPrincipalType};
use acs_identity_tests::{preview_client, start};
use futures_util::TryStreamExt;

#[tokio::test]
async fn teams_extension_assignment_create_replace_read_delete() {
    let (_emulator, client) = start().await;
    let first = client
        .upsert_teams_extension_assignment(
            "tenant",
            "object",
            TeamsExtensionPrincipalType::ResourceAccount,
            ["a"],
        )
        .await
        .unwrap();
    assert!(first.created);
    let second = client
        .upsert_teams_extension_assignment(
            "tenant",
            "object",
            TeamsExtensionPrincipalType::User,
            ["a", "b"],
        )
        .await
        .unwrap();
    assert!(!second.created);
    let read = client
        .get_teams_extension_assignment("tenant", "object")
        .await
        .unwrap();
    assert_eq!(read.principal_type, TeamsExtensionPrincipalType::User);
    assert_eq!(read.client_ids, ["a", "b"]);
    client
        .delete_teams_extension_assignment("tenant", "object")
        .await
        .unwrap();
    assert!(
        client
            .get_teams_extension_assignment("tenant", "object")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn entra_list_follows_next_links_and_bulk_update_adds_and_removes() {
    let (emulator, _) = start().await;
    emulator.set_page_size(2);
    let client = preview_client(&emulator);
    let changes: Vec<_> = (0..5)
        .map(|i| {
            (
                format!("object-{i}"),
                Some(EntraAssignmentSpec::new(
                    "tenant",
                    EntraPrincipalType::User,
                    ["app"],
                )),
            )
        })
        .collect();
    let written = client
        .update_entra_assignments(changes)
        .await
        .unwrap()
        .expect("200 with the assignments");
    assert_eq!(written.len(), 5);

    let all: Vec<_> = client.list_entra_assignments().try_collect().await.unwrap();
    let ids: Vec<_> = all.iter().map(|a| a.object_id.as_str()).collect();
    assert_eq!(
        ids,
        ["object-0", "object-1", "object-2", "object-3", "object-4"],
        "three pages of two, two and one"
    );

    let removed = client
        .update_entra_assignments([
            ("object-1".to_string(), None),
            ("object-3".to_string(), None),
        ])
        .await
        .unwrap();
    assert_eq!(removed, None, "only removals: 204");
    let all: Vec<_> = client.list_entra_assignments().try_collect().await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        client
            .get_entra_assignment("object-1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let replaced = client
        .upsert_entra_assignment(
            "object-0",
            EntraAssignmentSpec::new("tenant", EntraPrincipalType::Group, ["x"]),
        )
        .await
        .unwrap();
    assert!(!replaced.created);
    assert_eq!(
        client
            .get_entra_assignment("object-0")
            .await
            .unwrap()
            .principal_type,
        EntraPrincipalType::Group
    );
    client.delete_entra_assignment("object-0").await.unwrap();
}
