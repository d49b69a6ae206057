//! Method names for the generated clients.
//!
//! Microsoft's operationIds carry a group prefix (`CommunicationIdentity_`,
//! `IdentityOperations_`, `TeamsExtensionAssignment_` …) that changed between
//! api-versions for the same operation. The raw clients use one plain
//! snake_case name per operation, the same in every api-version:
//!
//! 1. An operationId in [`RENAMES`] takes the name given there.
//! 2. Otherwise the group prefix is dropped (`Things_GetWidget` → `get_widget`).
//! 3. Where that name is taken twice in one document, both keep their group
//!    (`delete_things`, `delete_widgets`, with a trailing `Operations` dropped).
//! 4. A name that is still taken twice is an error that asks for a line in
//!    [`RENAMES`].

use std::collections::{BTreeMap, HashMap};

use anyhow::{Result, bail};

/// Known operationIds of the Identity API, across all published api-versions.
pub const RENAMES: &[(&str, &str)] = &[
    // Identities (preview and hand-written stable ids, then TypeSpec ids).
    ("CommunicationIdentity_Create", "create_identity"),
    ("IdentityOperations_Create", "create_identity"),
    ("CommunicationIdentity_Delete", "delete_identity"),
    ("IdentityOperations_Delete", "delete_identity"),
    ("CommunicationIdentity_Get", "get_identity"),
    ("IdentityOperations_Get", "get_identity"),
    (
        "CommunicationIdentity_IssueAccessToken",
        "issue_access_token",
    ),
    ("IdentityOperations_IssueAccessToken", "issue_access_token"),
    (
        "CommunicationIdentity_RevokeAccessTokens",
        "revoke_access_tokens",
    ),
    (
        "IdentityOperations_RevokeAccessTokens",
        "revoke_access_tokens",
    ),
    // Teams users.
    (
        "CommunicationIdentity_ExchangeTeamsUserAccessToken",
        "exchange_teams_user_access_token",
    ),
    (
        "TeamsUserOperations_ExchangeTeamsUserAccessToken",
        "exchange_teams_user_access_token",
    ),
    // Teams Phone extensibility.
    (
        "TeamsExtensionToken_Exchange",
        "exchange_teams_extension_access_token",
    ),
    (
        "TeamsExtensionOperations_ExchangeToken",
        "exchange_teams_extension_access_token",
    ),
    (
        "TeamsExtensionAssignment_Get",
        "get_teams_extension_assignment",
    ),
    (
        "TeamsExtensionOperations_GetAssignment",
        "get_teams_extension_assignment",
    ),
    (
        "TeamsExtensionAssignment_Upsert",
        "upsert_teams_extension_assignment",
    ),
    (
        "TeamsExtensionOperations_UpsertAssignment",
        "upsert_teams_extension_assignment",
    ),
    (
        "TeamsExtensionAssignment_Delete",
        "delete_teams_extension_assignment",
    ),
    (
        "TeamsExtensionOperations_DeleteAssignment",
        "delete_teams_extension_assignment",
    ),
    // Entra ID users (preview).
    ("EntraIdToken_Exchange", "exchange_entra_access_token"),
    ("EntraIdAssignments_List", "list_entra_assignments"),
    ("EntraIdAssignments_Update", "update_entra_assignments"),
    ("EntraIdAssignment_Get", "get_entra_assignment"),
    ("EntraIdAssignment_Upsert", "upsert_entra_assignment"),
    ("EntraIdAssignment_Delete", "delete_entra_assignment"),
];

/// Maps each operationId of one document to its method name.
pub fn method_names(ids: &[String]) -> Result<HashMap<String, String>> {
    let table: HashMap<&str, &str> = RENAMES.iter().copied().collect();
    let short: Vec<String> = ids
        .iter()
        .map(|id| match table.get(id.as_str()) {
            Some(name) => (*name).to_string(),
            None => snake_case(id.split_once('_').map_or(id.as_str(), |(_, rest)| rest)),
        })
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for name in &short {
        *count.entry(name).or_default() += 1;
    }
    let mut out = HashMap::new();
    for (id, name) in ids.iter().zip(&short) {
        let name = if count[name.as_str()] > 1 && !table.contains_key(id.as_str()) {
            match id.split_once('_') {
                Some((group, rest)) => {
                    let group = group.strip_suffix("Operations").unwrap_or(group);
                    format!("{}_{}", snake_case(rest), snake_case(group))
                }
                None => name.clone(),
            }
        } else {
            name.clone()
        };
        out.insert(id.clone(), name);
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for id in ids {
        let name = out[id].as_str();
        if let Some(other) = seen.insert(name, id)
            && other != id
        {
            bail!(
                "operations {other} and {id} both map to method `{name}`: \
                 add a line for one of them to RENAMES in xtask/src/naming.rs"
            );
        }
    }
    Ok(out)
}

/// `ExchangeTeamsUserAccessToken` → `exchange_teams_user_access_token`;
/// runs of capitals stay together (`GetURLMap` → `get_url_map`).
pub fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == '.' || c == ' ' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ids: &[&str]) -> Result<Vec<String>> {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let map = method_names(&ids)?;
        Ok(ids.iter().map(|id| map[id].clone()).collect())
    }

    #[test]
    fn table_names_are_the_same_across_api_versions() {
        let preview = names(&[
            "CommunicationIdentity_Create",
            "TeamsExtensionToken_Exchange",
        ])
        .unwrap();
        let stable = names(&[
            "IdentityOperations_Create",
            "TeamsExtensionOperations_ExchangeToken",
        ])
        .unwrap();
        assert_eq!(preview, stable);
        assert_eq!(
            preview,
            ["create_identity", "exchange_teams_extension_access_token"]
        );
    }

    #[test]
    fn table_has_no_duplicate_ids() {
        let mut ids: Vec<_> = RENAMES.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before);
    }

    #[test]
    fn unknown_ids_drop_their_group() {
        assert_eq!(
            names(&["Widgets_GetWidgetById"]).unwrap(),
            ["get_widget_by_id"]
        );
        assert_eq!(names(&["NoGroup"]).unwrap(), ["no_group"]);
    }

    #[test]
    fn colliding_unknown_ids_keep_their_group() {
        assert_eq!(
            names(&["WidgetOperations_Delete", "Gadgets_Delete"]).unwrap(),
            ["delete_widget", "delete_gadgets"]
        );
    }

    #[test]
    fn unresolvable_collision_is_an_error_naming_the_table() {
        let err = names(&["A_ListThings", "A_List_Things"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("RENAMES"), "{err}");
    }

    #[test]
    fn snake_case_handles_acronyms_and_digits() {
        assert_eq!(
            snake_case("ExchangeTeamsUserAccessToken"),
            "exchange_teams_user_access_token"
        );
        assert_eq!(snake_case("GetURLMap"), "get_url_map");
        assert_eq!(snake_case("List2Items"), "list2_items");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }
}
