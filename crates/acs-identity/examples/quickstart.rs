//! The quickstart: create a user with a chat+voip token, issue another token
//! for one hour, read the user back (preview), revoke its tokens, delete it,
//! and show it is gone.
//!
//! Uses `ACS_CONNECTION_STRING` (or `COMMUNICATION_SERVICES_CONNECTION_STRING`)
//! when set; otherwise starts the local
//! emulator in this process.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::time::Duration;

use acs_identity::{CommunicationIdentityClient, TokenScope, preview};
use acs_identity_emulator::Emulator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the emulator alive until the end, when there is one.
    let (connection_string, _emulator) = match acs_identity::connection_string_from_env() {
        Some((variable, conn)) => {
            println!("Using the resource in {variable}.");
            (conn, None)
        }
        None => {
            let emulator = Emulator::builder().start().await?;
            println!(
                "No connection string (ACS_CONNECTION_STRING, COMMUNICATION_SERVICES_CONNECTION_STRING): started the local emulator at {}.",
                emulator.endpoint()
            );
            (emulator.connection_string(), Some(emulator))
        }
    };

    let client = CommunicationIdentityClient::from_connection_string(&connection_string)?;
    let preview = preview::CommunicationIdentityClient::from_connection_string(&connection_string)?;

    // 1. A user and a token for chat and calling.
    let created = client
        .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
        .await?;
    let user = created.user;
    println!("1. Created user {user}");
    println!(
        "   with a chat+voip token valid until {}",
        created.access_token.expires_on()
    );

    // 2. Another token, for one hour.
    let token = client
        .get_token(&user, [TokenScope::Voip])
        .expires_in(Duration::from_secs(60 * 60))
        .await?;
    println!(
        "2. Issued a one-hour voip token, valid until {}",
        token.expires_on()
    );

    // 3. Read the user back (preview api-version).
    let detail = preview.get_user(&user).await?;
    let issued = detail
        .last_token_issued_at
        .map(|t| t.to_string())
        .unwrap_or_else(|| "never".into());
    println!("3. Read the user back: last token issued at {issued}");

    // 4. Revoke every token issued so far.
    client.revoke_tokens(&user).await?;
    println!("4. Revoked the user's tokens");

    // 5. Delete the user.
    client.delete_user(&user).await?;
    println!("5. Deleted the user");

    // 6. The user is gone.
    match preview.get_user(&user).await {
        Err(err) if err.is_not_found() => println!("6. Reading it again answers 404: {err}"),
        Err(err) => return Err(err.into()),
        Ok(_) => return Err("the deleted user can still be read".into()),
    }
    println!("Done.");
    Ok(())
}
