//! `acs-identity user …`

use serde_json::json;

use super::Context;
use super::input::{lifetime, scopes, user_id};
use crate::cli::UserCommand;
use crate::failure::Failure;
use crate::json::token_json;
use crate::output;

pub async fn run(cx: &Context, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Create {
            scopes: names,
            expires_in_minutes,
            custom_id,
        } => {
            let scopes = scopes(&names)?;
            let (user, token) = match (custom_id.as_deref(), scopes.is_empty()) {
                (Some(custom), true) => {
                    (cx.preview()?.create_user().custom_id(custom).await?, None)
                }
                (Some(custom), false) => {
                    let client = cx.preview()?;
                    let mut req = client.create_user_and_token(scopes).custom_id(custom);
                    if let Some(d) = lifetime(expires_in_minutes) {
                        req = req.expires_in(d);
                    }
                    let created = req.await?;
                    (created.user, Some(created.access_token))
                }
                (None, true) => (cx.stable()?.create_user().await?, None),
                (None, false) => {
                    let client = cx.stable()?;
                    let mut req = client.create_user_and_token(scopes);
                    if let Some(d) = lifetime(expires_in_minutes) {
                        req = req.expires_in(d);
                    }
                    let created = req.await?;
                    (created.user, Some(created.access_token))
                }
            };
            let mut identity = json!({ "id": user.id() });
            if let Some(custom) = custom_id {
                identity["customId"] = json!(custom);
            }
            let mut out = json!({ "identity": identity });
            if let Some(token) = token {
                out["accessToken"] = token_json(&token);
            }
            output::print(cx.output, &out)?;
        }
        UserCommand::Get { id } => {
            let detail = cx.preview()?.get_user(&user_id(&id)?).await?;
            let mut out = json!({ "id": detail.user.id() });
            if let Some(custom) = detail.custom_id {
                out["customId"] = json!(custom);
            }
            if let Some(at) = detail.last_token_issued_at {
                out["lastTokenIssuedAt"] = json!(at.to_rfc3339());
            }
            output::print(cx.output, &out)?;
        }
        UserCommand::Delete { id } => {
            cx.stable()?.delete_user(&user_id(&id)?).await?;
            output::done(cx.output, &format!("deleted {id}"))?;
        }
    }
    Ok(())
}
