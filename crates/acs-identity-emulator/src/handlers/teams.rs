//! Teams: the Teams user token exchange, and the Teams Phone extension's
//! exchange and assignments.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Answer, Ctx, storage};
use crate::api_error::ApiError;
use crate::body::{self, Presence, required};
use crate::store::TeamsExtensionAssignment;
use crate::tokens;

/// The body of `/teamsUser/:exchangeAccessToken`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsUserExchange {
    token: Option<String>,
    app_id: Option<String>,
    user_id: Option<String>,
}

/// The body of a Teams Phone extension assignment.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentRequest {
    principal_type: Option<String>,
    client_ids: Option<Vec<String>>,
}

/// The body of the exchanges that take the user's token as the bearer: an
/// object whose fields are not read.
#[derive(Debug, Default, Deserialize)]
pub(super) struct NoFields {}

pub fn exchange_teams_user(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: TeamsUserExchange = body::read(body, Presence::Required)?;
    let token = required(req.token, "token")?;
    let app_id = required(req.app_id, "appId")?;
    let user_id = required(req.user_id, "userId")?;
    // As the service: the audience and the Teams scopes first.
    let claims = tokens::read_user_token(&token)?;
    check_teams_audience_and_scopes(&claims)?;
    let expires = tokens::unexpired(&claims, ctx.now)?;
    if tokens::claim(&claims, &["appid", "azp"]) != Some(app_id.as_str()) {
        return Err(ApiError::validation(
            "appId",
            "AAD application is not the expected one.",
        ));
    }
    if tokens::claim(&claims, &["oid"]) != Some(user_id.as_str()) {
        return Err(ApiError::validation(
            "userId",
            "AAD user is not the expected one.",
        ));
    }
    let token = tokens::issue(
        ctx.shared,
        ctx.now,
        &format!("8:orgid:{user_id}"),
        &["voip".to_string()],
        expires,
        json!({"kind": "teamsUser"}),
    );
    Ok((200, Some(token)))
}

/// The audience of a Teams user's token made for Azure Communication
/// Services.
pub const TEAMS_AUDIENCE: &str = "https://auth.msft.communication.azure.com";

/// The delegated permissions the Teams user exchange needs, as Entra writes
/// them in `scp`.
pub const TEAMS_SCOPES: [&str; 2] = ["Teams.ManageCalls", "Teams.ManageChats"];

/// A Teams user's token must be for [`TEAMS_AUDIENCE`] and carry both
/// [`TEAMS_SCOPES`] (short, or in full with the audience in front).
fn check_teams_audience_and_scopes(claims: &Map<String, Value>) -> Result<(), ApiError> {
    let audience = tokens::claim(claims, &["aud"]).unwrap_or_default();
    if audience.trim_end_matches('/') != TEAMS_AUDIENCE {
        return Err(tokens::invalid_user_token(format!(
            "the Teams token's audience is {audience:?}, not {TEAMS_AUDIENCE}"
        )));
    }
    let granted: Vec<&str> = tokens::claim(claims, &["scp"])
        .unwrap_or_default()
        .split(' ')
        .map(|s| {
            s.strip_prefix(TEAMS_AUDIENCE)
                .map_or(s, |rest| rest.trim_start_matches('/'))
        })
        .collect();
    let missing: Vec<&str> = TEAMS_SCOPES
        .into_iter()
        .filter(|needed| !granted.contains(needed))
        .collect();
    if !missing.is_empty() {
        return Err(tokens::invalid_user_token(format!(
            "the Teams token's scp lacks {}",
            missing.join(" and ")
        )));
    }
    Ok(())
}

/// The user's tenant, object and application, from the bearer token.
pub(super) struct UserToken {
    pub tenant: String,
    pub object: String,
    pub app: String,
    pub expires: chrono::DateTime<chrono::Utc>,
}

impl UserToken {
    pub fn read(ctx: &Ctx<'_>, body: &[u8]) -> Result<Self, ApiError> {
        let _: NoFields = body::read(body, Presence::Required)?;
        let (claims, expires) = tokens::user_claims(ctx.user_token.unwrap_or_default(), ctx.now)?;
        Ok(Self {
            tenant: tokens::required_claim(&claims, "tid")?,
            object: tokens::required_claim(&claims, "oid")?,
            app: tokens::claim(&claims, &["appid", "azp"])
                .unwrap_or_default()
                .to_string(),
            expires,
        })
    }

    /// Answers the exchange for the identity `id` when one of the
    /// assignments' client id lists holds the token's application.
    pub fn exchange(
        &self,
        ctx: &Ctx<'_>,
        allowed: &[Vec<String>],
        id: String,
        kind: &str,
    ) -> Answer {
        if allowed.is_empty() {
            return Err(ApiError::new(
                403,
                "Forbidden",
                "No assignment allows this user to exchange tokens.",
            ));
        }
        if !allowed.iter().any(|ids| ids.contains(&self.app)) {
            return Err(ApiError::new(
                403,
                "Forbidden",
                "The token's application is not among the assignment's client ids.",
            )
            .with_target("appId"));
        }
        let expires = self.expires.min(ctx.now + chrono::Duration::hours(24));
        let token = tokens::issue(
            ctx.shared,
            ctx.now,
            &id,
            &["voip".to_string()],
            expires,
            json!({"kind": kind}),
        );
        Ok((
            200,
            Some(json!({ "identity": { "id": id }, "accessToken": token })),
        ))
    }
}

pub fn exchange_extension(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let user = UserToken::read(ctx, body)?;
    let allowed: Vec<Vec<String>> = ctx
        .store()
        .teams_extension(&user.tenant, &user.object)
        .map(|a| vec![a.client_ids])
        .unwrap_or_default();
    let id = format!(
        "8:acs:{}_{}_{}",
        ctx.store().resource_id,
        user.tenant,
        user.object
    );
    user.exchange(ctx, &allowed, id, "teamsExtension")
}

fn assignment_json(a: &TeamsExtensionAssignment) -> Value {
    let mut v = json!({ "objectId": a.object_id, "tenantId": a.tenant_id, "principalType": a.principal_type });
    if !a.client_ids.is_empty() {
        v["clientIds"] = json!(a.client_ids);
    }
    v
}

pub fn get_assignment(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    let a = ctx
        .store()
        .teams_extension(ctx.param(0), ctx.param(1))
        .ok_or_else(|| {
            ApiError::new(
                404,
                "AssignmentNotFound",
                "No assignment exists for this tenant and object.",
            )
        })?;
    Ok((200, Some(assignment_json(&a))))
}

pub fn upsert_assignment(ctx: &Ctx<'_>, body: &[u8]) -> Answer {
    let req: AssignmentRequest = body::read(body, Presence::Required)?;
    let a = TeamsExtensionAssignment {
        tenant_id: ctx.param(0).to_string(),
        object_id: ctx.param(1).to_string(),
        principal_type: required(req.principal_type, "principalType")?,
        client_ids: req.client_ids.unwrap_or_default(),
    };
    let created = ctx
        .store()
        .put_teams_extension(a.clone())
        .map_err(storage)?;
    Ok((if created { 201 } else { 200 }, Some(assignment_json(&a))))
}

pub fn delete_assignment(ctx: &Ctx<'_>, _body: &[u8]) -> Answer {
    ctx.store()
        .delete_teams_extension(ctx.param(0), ctx.param(1))
        .map_err(storage)?;
    Ok((204, None))
}
