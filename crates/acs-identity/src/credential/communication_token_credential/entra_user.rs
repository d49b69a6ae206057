//! The credential of an Entra ID user of Communication Services: its
//! refresher gets the user's Entra ID token from the caller and exchanges it
//! for a Communication Services token through the preview client.

use std::error::Error as StdError;
use std::future::Future;

use crate::credential::CredentialError;
use crate::preview::CommunicationIdentityClient;

use super::{BoxError, CommunicationTokenCredential, CommunicationTokenCredentialBuilder};

impl CommunicationTokenCredential {
    /// A builder for the credential of an Entra ID user: each refresh calls
    /// `entra_token` for the user's current Entra ID token (from MSAL,
    /// azure_identity or your sign-in flow) and exchanges it with
    /// [`exchange_entra_token`](CommunicationIdentityClient::exchange_entra_token)
    /// for a Communication Services token. The refresh rules, options and
    /// errors are those of [`builder`](Self::builder); the Communication
    /// Services token lives no longer than the Entra ID token it came from,
    /// so a short-lived Entra ID token is exchanged again sooner.
    ///
    /// The exchange needs an Entra assignment that lets the token's
    /// application in for the user, its tenant or one of its groups.
    ///
    /// # Errors
    ///
    /// [`get_token`](Self::get_token) returns [`Error::Credential`](crate::Error::Credential)
    /// when `entra_token` fails (its error is the cause) or the exchange
    /// fails (the client's error is the cause: 403 when no assignment
    /// allows the user), and the other errors of [`builder`](Self::builder).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let connection_string = emulator.connection_string();
    /// # let users_entra_token = emulator.entra_token(serde_json::json!({"oid": "user-oid", "tid": "tenant-id", "appid": "app-id"}));
    /// use acs_identity::preview::CommunicationIdentityClient;
    /// use acs_identity::{CommunicationTokenCredential, EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let client = CommunicationIdentityClient::from_connection_string(&connection_string)?;
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id"]);
    /// client.upsert_entra_assignment("user-oid", spec).await?;
    ///
    /// let credential = CommunicationTokenCredential::entra_user(client, move || {
    ///     // In an app: the signed-in user's token for Communication Services.
    ///     let token = users_entra_token.clone();
    ///     async move { Ok::<_, std::io::Error>(token) }
    /// })
    /// .build()?;
    /// let token = credential.get_token().await?;
    /// # assert!(emulator.is_token_valid(token.token()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn entra_user<F, Fut, E>(
        client: CommunicationIdentityClient,
        entra_token: F,
    ) -> CommunicationTokenCredentialBuilder
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        Self::builder(move || {
            let client = client.clone();
            let entra_token = entra_token();
            async move {
                let entra_token = entra_token.await.map_err(|e| -> BoxError {
                    let e: BoxError = e.into();
                    Box::new(CredentialError::new(
                        format!("could not get the user's entra id token: {e}"),
                        Some(e),
                    ))
                })?;
                let exchanged = client
                    .exchange_entra_token(&entra_token)
                    .await
                    .map_err(BoxError::from)?;
                Ok::<_, BoxError>(exchanged.access_token)
            }
        })
    }
}
