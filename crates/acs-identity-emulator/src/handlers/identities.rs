//! Identities and their access tokens: create, get, delete, issue, revoke.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, Ctx, expires_in_minutes, scopes, storage};
use crate::api_error::ApiError;
use crate::body::{self, Presence};
use crate::store::Identity;
use crate::tokens;

/// The body of `POST /identities` (all optional, and so is the body).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    /// Read in the preview only.
    custom_id: Option<String>,
    create_token_with_scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

/// The body of `:issueAccessToken`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueRequest {
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "IdentityNotFound",
        format!("Identity {id} was not found."),
    )
}

/// An identity as the api-version shows it: the preview adds `customId`
/// and `lastTokenIssuedAt`.
fn identity_json(ctx: &Ctx<'_>, identity: &Identity) -> Value {
    let mut v = json!({ "id": identity.id });
    if ctx.version.preview {
        if let Some(c) = &identity.custom_id {
            v["customId"] = json!(c);
        }
        if let Some(t) = identity.last_token_issued_at {
            v["lastTokenIssuedAt"] = json!(tokens::timestamp(t));
        }
    }
    v
}

/// Issues a token for a stored user: its `exp` is the returned `expiresOn`.
fn access_token(
    ctx: &Ctx<'_>,
    user: &str,
    scopes: &[String],
    minutes: i64,
) -> Result<Value, ApiError> {
    let generation = ctx
        .store()
        .issue_token(user, ctx.now)
        .map_err(storage)?
        .ok_or_else(|| not_found(user))?;
    let expires = match ctx.shared.token_lifetime {
        Some(lifetime) => chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|d| ctx.now.checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        None => ctx.now + chrono::Duration::minutes(minutes),
    };
    Ok(tokens::issue(
        ctx.shared,
        ctx.now,
        user,
        scopes,
        expires,
        json!({"kind": "acs", "gen": generation}),
    ))
}

pub fn create(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: CreateRequest = body::read(body, Presence::Optional)?;
    let scopes = scopes(req.create_token_with_scopes, "createTokenWithScopes", false)?;
    let minutes = expires_in_minutes(req.expires_in_minutes)?;
    let custom_id = req.custom_id.filter(|_| ctx.version.preview);
    if let Some(c) = &custom_id
        && (c.is_empty() || c.chars().count() > 256)
    {
        return Err(ApiError::validation(
            "customId",
            "customId must be 1 to 256 characters long.",
        ));
    }
    let store = ctx.store();
    let (identity, _) = store
        .create_identity(custom_id.as_deref())
        .map_err(storage)?;
    let mut result = json!({});
    if !scopes.is_empty() {
        result["accessToken"] = access_token(ctx, &identity.id, &scopes, minutes)?;
    }
    let identity = store.get_identity(&identity.id).unwrap_or(identity);
    result["identity"] = identity_json(ctx, &identity);
    Ok((201, Some(result)))
}

pub fn get(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let id = ctx.param(0);
    let identity = ctx.store().get_identity(id).ok_or_else(|| not_found(id))?;
    Ok((200, Some(identity_json(ctx, &identity))))
}

pub fn delete(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let id = ctx.param(0);
    if !ctx.store().delete_identity(id).map_err(storage)? {
        return Err(not_found(id));
    }
    Ok((204, None))
}

pub fn issue_token(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: IssueRequest = body::read(body, Presence::Required)?;
    let scopes = scopes(req.scopes, "scopes", true)?;
    let minutes = expires_in_minutes(req.expires_in_minutes)?;
    Ok((
        200,
        Some(access_token(ctx, ctx.param(0), &scopes, minutes)?),
    ))
}

pub fn revoke_tokens(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let id = ctx.param(0);
    if !ctx.store().revoke(id, ctx.now).map_err(storage)? {
        return Err(not_found(id));
    }
    Ok((204, None))
}
