//! Interop with `azure_core` (feature `azure_core`): its token credentials
//! authenticate the client, and this crate's errors convert to its error.
//!
//! The client keeps its own pipeline (retries that never repeat a create
//! without custom id, a per-try timeout and a deadline); only the
//! credential and the error type cross over.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azure_core::credentials::TokenCredential as AzureTokenCredential;
use azure_core::error::ErrorKind;

use crate::credential::{BoxFuture, CredentialError, EntraToken, TokenCredential};
use crate::error::Error;

/// Any `azure_core` credential (azure_identity's `DeveloperToolsCredential`,
/// `ManagedIdentityCredential`, `ClientSecretCredential`, …) authenticates
/// the client as it is: pass the `Arc` to
/// [`ClientBuilder::token_credential`](crate::ClientBuilder::token_credential).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// use acs_identity::CommunicationIdentityClient;
/// use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
/// use azure_core::time::{Duration, OffsetDateTime};
/// use std::sync::Arc;
///
/// // In an app: `azure_identity::DeveloperToolsCredential::new(None)?` or
/// // `ManagedIdentityCredential::new(None)?`. Here, one that hands out a
/// // token the emulator trusts.
/// #[derive(Debug)]
/// struct Fixed(String);
///
/// #[async_trait::async_trait]
/// impl TokenCredential for Fixed {
///     async fn get_token(&self, _: &[&str], _: Option<TokenRequestOptions<'_>>) -> azure_core::Result<AccessToken> {
///         Ok(AccessToken::new(self.0.clone(), OffsetDateTime::now_utc() + Duration::hours(1)))
///     }
/// }
///
/// let credential: Arc<dyn TokenCredential> = Arc::new(Fixed(emulator.management_token()));
/// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
///     .token_credential(credential)
///     .build()?;
/// let user = client.create_user().await?;
/// assert!(user.id().starts_with("8:acs:"));
/// # Ok(())
/// # }
/// ```
impl TokenCredential for Arc<dyn AzureTokenCredential> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
    ) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
        Box::pin(async move {
            let token = AzureTokenCredential::get_token(self.as_ref(), scopes, None)
                .await
                .map_err(|e| {
                    CredentialError::new("the azure_core credential failed", Some(Box::new(e)))
                })?;
            // A time before the epoch is an expired token; the cache refuses it.
            let seconds = u64::try_from(token.expires_on.unix_timestamp()).unwrap_or(0);
            let expires_on = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(seconds))
                .unwrap_or(SystemTime::UNIX_EPOCH);
            Ok(EntraToken::new(token.token.secret(), expires_on))
        })
    }
}

/// `?` from this crate's [`Error`] into `azure_core::Result`.
///
/// A service error becomes `ErrorKind::HttpResponse` with its status and
/// error code; a failed connection `Connection`; a timeout or a broken
/// connection `Io`; a body that is not what the API describes
/// `DataConversion`; a credential failure `Credential`; anything refused
/// before sending `Other`. The message is this error's `Display` (the
/// service's own message included), and the original stays reachable
/// through `into_inner()` / `downcast_ref::<acs_identity::Error>()`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{CommunicationUserIdentifier, TokenScope};
/// use azure_core::error::ErrorKind;
///
/// async fn token_for(client: &acs_identity::CommunicationIdentityClient, id: &str) -> azure_core::Result<String> {
///     let user = CommunicationUserIdentifier::new(id)?;
///     let token = client.get_token(&user, [TokenScope::Chat]).await?;
///     Ok(token.token().to_owned())
/// }
///
/// let err = token_for(&client, "8:acs:nobody").await.unwrap_err();
/// match err.kind() {
///     ErrorKind::HttpResponse { status, error_code, .. } => {
///         assert_eq!(u16::from(*status), 404);
///         assert_eq!(error_code.as_deref(), Some("IdentityNotFound"));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
impl From<Error> for azure_core::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Service(s) => ErrorKind::HttpResponse {
                status: s.status.into(),
                error_code: s.code.clone(),
                raw_response: None,
            },
            Error::Transport(t) if t.is_connect() => ErrorKind::Connection,
            Error::Transport(_) | Error::Timeout { .. } => ErrorKind::Io,
            Error::Decode(_) => ErrorKind::DataConversion,
            Error::Credential { .. } => ErrorKind::Credential,
            _ => ErrorKind::Other,
        };
        azure_core::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_error_maps_and_keeps_the_original() {
        let refused = Error::invalid("scopes", "give at least one scope");
        let converted = azure_core::Error::from(refused);
        assert!(matches!(converted.kind(), ErrorKind::Other));
        assert!(converted.to_string().contains("give at least one scope"));
        let inner = converted.into_inner().unwrap();
        assert!(matches!(
            inner.downcast_ref::<Error>(),
            Some(Error::InvalidArgument { name: "scopes", .. })
        ));

        let credential = Error::from(CredentialError::new("no login", None));
        assert!(matches!(
            azure_core::Error::from(credential).kind(),
            ErrorKind::Credential
        ));
        let timeout = Error::Timeout {
            elapsed: Duration::from_secs(1),
            attempts: 2,
            request_id: None,
        };
        assert!(matches!(
            azure_core::Error::from(timeout).kind(),
            ErrorKind::Io
        ));
    }
}
