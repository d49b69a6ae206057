//! Credentials: the resource's access key (HMAC), Entra ID token sources
//! and their cache, and the refreshing token credential of an ACS user.

mod access_key;
mod communication_token_credential;
mod token_cache;

pub use access_key::{AccessKey, InvalidAccessKey};
pub use communication_token_credential::{
    CommunicationTokenCredential, CommunicationTokenCredentialBuilder, InvalidToken, RefreshedToken,
};
pub(crate) use token_cache::TokenCache;

/// A boxed `Send` future (the same type as the generated crate's).
pub use acs_identity_raw::BoxFuture;

/// How a client authenticates its requests.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// HMAC-SHA256 with the resource's access key.
    Key(AccessKey),
    /// Entra ID bearer tokens, cached.
    Token(TokenCache),
}

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// The scope the client asks an Entra ID credential for.
///
/// # Examples
///
/// ```
/// use acs_identity::ENTRA_SCOPE;
///
/// // What a TokenCredential is asked for; credentials that take a resource
/// // instead of a scope want the part before `/.default`.
/// assert_eq!(ENTRA_SCOPE.strip_suffix("/.default"), Some("https://communication.azure.com/"));
/// ```
pub const ENTRA_SCOPE: &str = "https://communication.azure.com//.default";

/// A bearer token from Entra ID, with its expiry.
///
/// # Examples
///
/// ```
/// use acs_identity::EntraToken;
/// use std::time::{Duration, SystemTime};
///
/// let token = EntraToken::new("eyJ0eXAiOiJKV1Qi...", SystemTime::now() + Duration::from_secs(3600));
/// assert!(!format!("{token:?}").contains("eyJ"), "Debug hides the token");
/// ```
#[derive(Clone)]
pub struct EntraToken {
    token: Arc<str>,
    expires_on: SystemTime,
}

impl EntraToken {
    /// A token and when it expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::EntraToken;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let expires_on = SystemTime::now() + Duration::from_secs(3600);
    /// let token = EntraToken::new("eyJ0eXAiOiJKV1Qi...", expires_on);
    /// assert_eq!(token.expires_on(), expires_on);
    /// ```
    pub fn new(token: impl Into<String>, expires_on: SystemTime) -> Self {
        Self {
            token: token.into().into(),
            expires_on,
        }
    }

    /// The token text.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::EntraToken;
    /// use std::time::SystemTime;
    ///
    /// let token = EntraToken::new("eyJ0eXAiOiJKV1Qi...", SystemTime::now());
    /// assert_eq!(token.expose_secret(), "eyJ0eXAiOiJKV1Qi...");
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.token
    }

    /// When it expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::EntraToken;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let token = EntraToken::new("eyJ0eXAiOiJKV1Qi...", SystemTime::now() + Duration::from_secs(3600));
    /// assert!(token.expires_on() > SystemTime::now());
    /// ```
    pub fn expires_on(&self) -> SystemTime {
        self.expires_on
    }
}

impl fmt::Debug for EntraToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraToken")
            .field("token", &"***")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Why a [`TokenCredential`] failed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// use acs_identity::{BoxFuture, CommunicationIdentityClient, CredentialError, EntraToken, Error, TokenCredential};
///
/// #[derive(Debug)]
/// struct SignedOut;
///
/// impl TokenCredential for SignedOut {
///     fn get_token<'a>(&'a self, _scopes: &'a [&'a str]) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
///         Box::pin(async { Err(CredentialError::new("no user is signed in", None)) })
///     }
/// }
///
/// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
///     .token_credential(SignedOut)
///     .build()?;
/// let err = client.create_user().await.unwrap_err();
/// assert!(matches!(err, Error::Credential { .. }));
/// assert_eq!(err.to_string(), "credential failed: no user is signed in");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CredentialError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CredentialError {
    /// An error with a message and, optionally, its cause.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CredentialError;
    /// use std::error::Error as _;
    ///
    /// let cause = std::io::Error::other("the token endpoint is unreachable");
    /// let err = CredentialError::new("could not get a token", Some(Box::new(cause)));
    /// assert_eq!(err.to_string(), "could not get a token");
    /// assert!(err.source().is_some());
    /// ```
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

impl From<CredentialError> for crate::Error {
    fn from(e: CredentialError) -> Self {
        crate::Error::Credential {
            message: e.message,
            source: e.source,
        }
    }
}

/// A source of Entra ID bearer tokens.
///
/// With the `azure_core` feature, every `Arc<dyn
/// azure_core::credentials::TokenCredential>` (azure_identity's
/// `DeveloperToolsCredential`, `ManagedIdentityCredential`, …) is one.
///
/// # Examples
///
/// ```
/// use acs_identity::{BoxFuture, CredentialError, EntraToken, TokenCredential};
/// use std::time::{Duration, SystemTime};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// impl TokenCredential for Fixed {
///     fn get_token<'a>(&'a self, _scopes: &'a [&'a str]) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
///         Box::pin(async { Ok(EntraToken::new("eyJ...", SystemTime::now() + Duration::from_secs(3600))) })
///     }
/// }
/// ```
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// Gets a token for `scopes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{BoxFuture, CredentialError, ENTRA_SCOPE, EntraToken, TokenCredential};
    /// use std::time::{Duration, SystemTime};
    ///
    /// #[derive(Debug)]
    /// struct Fixed;
    ///
    /// impl TokenCredential for Fixed {
    ///     fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
    ///         assert_eq!(scopes, [ENTRA_SCOPE]); // what the client asks for
    ///         Box::pin(async { Ok(EntraToken::new("eyJ...", SystemTime::now() + Duration::from_secs(3600))) })
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let token = Fixed.get_token(&[ENTRA_SCOPE]).await?;
    /// assert_eq!(token.expose_secret(), "eyJ...");
    /// # Ok::<(), CredentialError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
    ) -> BoxFuture<'a, Result<EntraToken, CredentialError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_token_debug_hides_the_token() {
        let t = EntraToken::new("eyJhbGciOi.secret", SystemTime::UNIX_EPOCH);
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
