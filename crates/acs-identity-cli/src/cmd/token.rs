//! `acs-identity token …`

use acs_identity::GetTokenForTeamsUserOptions;

use super::Context;
use super::input::{lifetime, scopes, token_input, user_id};
use crate::cli::TokenCommand;
use crate::failure::Failure;
use crate::json::{token_json, user_and_token_json};
use crate::output;

pub async fn run(cx: &Context, command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Issue {
            id,
            scopes: names,
            expires_in_minutes,
        } => {
            let user = user_id(&id)?;
            let client = cx.stable()?;
            let mut req = client.get_token(&user, scopes(&names)?);
            if let Some(d) = lifetime(expires_in_minutes) {
                req = req.expires_in(d);
            }
            output::print(cx.output, &token_json(&req.await?))?;
        }
        TokenCommand::Revoke { id } => {
            cx.stable()?.revoke_tokens(&user_id(&id)?).await?;
            output::done(cx.output, &format!("revoked the tokens of {id}"))?;
        }
        TokenCommand::ExchangeTeams {
            teams_token,
            token_file,
            app_id,
            user_id,
        } => {
            let teams_token = token_input(teams_token, token_file, "--teams-token")?;
            let options = GetTokenForTeamsUserOptions::new(teams_token, app_id, user_id);
            let token = cx.stable()?.get_token_for_teams_user(&options).await?;
            output::print(cx.output, &token_json(&token))?;
        }
        TokenCommand::ExchangeEntra(input) => {
            let entra_token = token_input(input.entra_token, input.token_file, "--entra-token")?;
            let result = cx.preview()?.exchange_entra_token(&entra_token).await?;
            output::print(cx.output, &user_and_token_json(&result))?;
        }
        TokenCommand::ExchangeTeamsExtension(input) => {
            let entra_token = token_input(input.entra_token, input.token_file, "--entra-token")?;
            let result = cx
                .stable()?
                .exchange_teams_extension_token(&entra_token)
                .await?;
            output::print(cx.output, &user_and_token_json(&result))?;
        }
    }
    Ok(())
}
