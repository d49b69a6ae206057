//! Entra ID: the exchange of a user's Entra token and the assignments
//! that allow it (users, tenants, groups).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};

use super::teams::UserToken;
use super::{Answer, Ctx, storage};
use crate::api_error::ApiError;
use crate::body::{self, Presence, required};
use crate::store::EntraAssignment;

/// The body of an Entra assignment (upsert, or a value of the bulk update).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentRequest {
    tenant_id: Option<String>,
    principal_type: Option<String>,
    client_ids: Option<Vec<String>>,
}

impl AssignmentRequest {
    fn into_assignment(self, object_id: &str) -> Result<EntraAssignment, ApiError> {
        Ok(EntraAssignment {
            object_id: object_id.to_string(),
            tenant_id: required(self.tenant_id, "tenantId")?,
            principal_type: required(self.principal_type, "principalType")?,
            client_ids: self.client_ids.ok_or_else(|| {
                ApiError::validation(
                    "clientIds",
                    "clientIds is required and must be an array of strings.",
                )
            })?,
        })
    }
}

/// The bulk update: a merge patch from object id to an assignment, or
/// `null` to remove it.
type UpdateRequest = BTreeMap<String, Option<AssignmentRequest>>;

fn assignment_json(a: &EntraAssignment) -> Value {
    json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type, "clientIds": a.client_ids })
}

/// The user's own assignment, their tenant's, and those of the groups they
/// are in: any of them may allow the token's application.
pub fn exchange(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let user = UserToken::read(ctx, body)?;
    let store = ctx.store();
    let mut allowed = Vec::new();
    if let Some(a) = store
        .entra(&user.object)
        .filter(|a| a.principal_type == "user" && a.tenant_id == user.tenant)
    {
        allowed.push(a.client_ids);
    }
    if let Some(a) = store
        .entra(&user.tenant)
        .filter(|a| a.principal_type == "tenant" && a.tenant_id == user.tenant)
    {
        allowed.push(a.client_ids);
    }
    for g in store.entra_groups() {
        if g.tenant_id == user.tenant && store.is_member(&g.object_id, &user.object) {
            allowed.push(g.client_ids);
        }
    }
    let id = format!(
        "8:acs:{}_wf_{}_{}",
        store.resource_id, user.tenant, user.object
    );
    user.exchange(ctx, &allowed, id, "entra")
}

/// One page, with a `nextLink` back to this emulator when there is more.
pub fn list(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let after = crate::query::param(ctx.query, "skipToken");
    let size = ctx.shared.page_size.load(Ordering::Relaxed).max(1);
    let (page, more) = ctx.store().entra_page(after.as_deref(), size);
    let mut result = json!({ "value": page.iter().map(assignment_json).collect::<Vec<_>>() });
    if more && let Some(last) = page.last() {
        let token: String = percent_encoding::utf8_percent_encode(
            &last.object_id,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .collect();
        result["nextLink"] = json!(format!(
            "{}://{}/access/entra/assignments?api-version={}&skipToken={token}",
            ctx.shared.scheme, ctx.host, ctx.version.version
        ));
    }
    Ok((200, Some(result)))
}

pub fn update(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: UpdateRequest = body::read(body, Presence::Required)?;
    if req.is_empty() {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "The request body must name at least one object id.",
        ));
    }
    let mut changes = Vec::with_capacity(req.len());
    for (object_id, value) in req {
        let assignment = value.map(|a| a.into_assignment(&object_id)).transpose()?;
        changes.push((object_id, assignment));
    }
    let written: Vec<Value> = changes
        .iter()
        .filter_map(|(_, a)| a.as_ref().map(assignment_json))
        .collect();
    ctx.store().put_entra(changes).map_err(storage)?;
    if written.is_empty() {
        Ok((204, None))
    } else {
        Ok((200, Some(json!({ "value": written }))))
    }
}

pub fn get(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let a = ctx.store().entra(ctx.param(0)).ok_or_else(|| {
        ApiError::new(
            404,
            "AssignmentNotFound",
            "No assignment exists for this object.",
        )
    })?;
    Ok((200, Some(assignment_json(&a))))
}

pub fn upsert(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: AssignmentRequest = body::read(body, Presence::Required)?;
    let object_id = ctx.param(0);
    let a = req.into_assignment(object_id)?;
    let created = ctx
        .store()
        .put_entra(vec![(object_id.to_string(), Some(a.clone()))])
        .map_err(storage)?;
    Ok((
        if created.first() == Some(&true) {
            201
        } else {
            200
        },
        Some(assignment_json(&a)),
    ))
}

pub fn delete(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    ctx.store()
        .put_entra(vec![(ctx.param(0).to_string(), None)])
        .map_err(storage)?;
    Ok((204, None))
}
