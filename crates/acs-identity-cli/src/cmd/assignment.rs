//! `acs-identity assignment …`

use acs_identity::{
    EntraAssignment, EntraAssignmentSpec, EntraPrincipalType, TeamsExtensionAssignment,
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use super::Context;
use super::input::read_input_file;
use crate::cli::{AssignmentCommand, EntraCommand, TeamsExtensionCommand};
use crate::failure::Failure;
use crate::output;

fn teams_json(a: &TeamsExtensionAssignment) -> Value {
    json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type.as_str(), "clientIds": a.client_ids })
}

fn entra_json(a: &EntraAssignment) -> Value {
    json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type.as_str(), "clientIds": a.client_ids })
}

/// Reads `--changes`: JSON text, or `@FILE`.
fn changes(text: &str) -> Result<Vec<(String, Option<EntraAssignmentSpec>)>, Failure> {
    let text = match text.strip_prefix('@') {
        Some(path) => read_input_file(std::path::Path::new(path), "--changes file")?,
        None => text.to_string(),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::from(format!("--changes is not JSON: {e}")))?;
    let map = value.as_object().ok_or_else(|| {
        Failure::from("--changes must be a JSON object keyed by object id".to_string())
    })?;
    let mut out = Vec::new();
    for (object_id, change) in map {
        let spec = match change {
            Value::Null => None,
            Value::Object(a) => {
                let field = |name: &str| {
                    a.get(name)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| {
                            Failure::from(format!("--changes: {object_id}.{name} must be a string"))
                        })
                };
                let client_ids: Vec<String> = a
                    .get("clientIds")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .ok_or_else(|| {
                        Failure::from(format!(
                            "--changes: {object_id}.clientIds must be an array of strings"
                        ))
                    })?;
                let principal: EntraPrincipalType = field("principalType")?
                    .parse()
                    .unwrap_or_else(|never| match never {});
                Some(EntraAssignmentSpec::new(
                    field("tenantId")?,
                    principal,
                    client_ids,
                ))
            }
            _ => {
                return Err(Failure::from(format!(
                    "--changes: {object_id} must be an assignment object or null"
                )));
            }
        };
        out.push((object_id.clone(), spec));
    }
    Ok(out)
}

pub async fn run(cx: &Context, command: AssignmentCommand) -> Result<(), Failure> {
    match command {
        AssignmentCommand::TeamsExtension(c) => {
            let client = cx.stable()?;
            match c {
                TeamsExtensionCommand::Get(t) => {
                    let a = client
                        .get_teams_extension_assignment(&t.tenant_id, &t.object_id)
                        .await?;
                    output::print(cx.output, &teams_json(&a))?;
                }
                TeamsExtensionCommand::Set {
                    target,
                    principal_type,
                    client_ids,
                } => {
                    let kind = principal_type
                        .parse()
                        .unwrap_or_else(|never| match never {});
                    let up = client
                        .upsert_teams_extension_assignment(
                            &target.tenant_id,
                            &target.object_id,
                            kind,
                            client_ids,
                        )
                        .await?;
                    output::print(cx.output, &teams_json(&up.value))?;
                }
                TeamsExtensionCommand::Delete(t) => {
                    client
                        .delete_teams_extension_assignment(&t.tenant_id, &t.object_id)
                        .await?;
                    output::done(
                        cx.output,
                        &format!(
                            "deleted the assignment of {} in {}",
                            t.object_id, t.tenant_id
                        ),
                    )?;
                }
            }
        }
        AssignmentCommand::Entra(c) => {
            let client = cx.preview()?;
            match c {
                EntraCommand::List => {
                    let all: Vec<EntraAssignment> =
                        client.list_entra_assignments().try_collect().await?;
                    output::print(
                        cx.output,
                        &json!({ "value": all.iter().map(entra_json).collect::<Vec<_>>() }),
                    )?;
                }
                EntraCommand::Get { object_id } => {
                    output::print(
                        cx.output,
                        &entra_json(&client.get_entra_assignment(&object_id).await?),
                    )?;
                }
                EntraCommand::Set {
                    object_id,
                    tenant_id,
                    principal_type,
                    client_ids,
                } => {
                    let kind = principal_type
                        .parse()
                        .unwrap_or_else(|never| match never {});
                    let up = client
                        .upsert_entra_assignment(
                            &object_id,
                            EntraAssignmentSpec::new(tenant_id, kind, client_ids),
                        )
                        .await?;
                    output::print(cx.output, &entra_json(&up.value))?;
                }
                EntraCommand::Delete { object_id } => {
                    client.delete_entra_assignment(&object_id).await?;
                    output::done(cx.output, &format!("deleted the assignment of {object_id}"))?;
                }
                EntraCommand::Update { changes: text } => {
                    match client.update_entra_assignments(changes(&text)?).await? {
                        Some(written) => output::print(
                            cx.output,
                            &json!({ "value": written.iter().map(entra_json).collect::<Vec<_>>() }),
                        ),
                        None => output::done(cx.output, "updated"),
                    }?
                }
            }
        }
    }
    Ok(())
}
