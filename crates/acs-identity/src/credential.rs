//! Credentials: the resource's access key (HMAC) or an Entra ID token source.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

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

/// A boxed `Send` future.
///
/// # Examples
///
/// ```
/// use acs_identity::BoxFuture;
///
/// fn answer<'a>(question: &'a str) -> BoxFuture<'a, usize> {
///     Box::pin(async move { question.len() })
/// }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// assert_eq!(answer("forty-two").await, 9);
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A Communication Services access key: the base64 text from the portal or
/// connection string, decoded once.
///
/// `Debug` shows `AccessKey(***)`; there is no `Display`. Read the text with
/// [`expose_secret`](Self::expose_secret).
///
/// # Examples
///
/// ```
/// use acs_identity::AccessKey;
///
/// let key = AccessKey::new("c2VjcmV0")?;
/// assert_eq!(format!("{key:?}"), "AccessKey(***)");
/// assert_eq!(key.expose_secret(), "c2VjcmV0");
/// # Ok::<(), acs_identity::InvalidAccessKey>(())
/// ```
#[derive(Clone)]
pub struct AccessKey {
    text: Arc<str>,
    bytes: Arc<[u8]>,
}

/// The access key was not non-empty standard base64.
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessKey, InvalidAccessKey};
///
/// assert_eq!(AccessKey::new("not base64!").unwrap_err(), InvalidAccessKey);
/// assert_eq!(AccessKey::new("").unwrap_err(), InvalidAccessKey);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access key is not base64")]
pub struct InvalidAccessKey;

impl AccessKey {
    /// Decodes a base64 access key.
    ///
    /// # Errors
    ///
    /// [`InvalidAccessKey`] if it is empty or not standard base64.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::AccessKey;
    ///
    /// let key = AccessKey::new(" c2VjcmV0\n")?; // white space around it is ignored
    /// assert_eq!(key.expose_secret(), "c2VjcmV0");
    /// assert!(AccessKey::new("c2VjcmV0*").is_err());
    /// # Ok::<(), acs_identity::InvalidAccessKey>(())
    /// ```
    pub fn new(base64: &str) -> Result<Self, InvalidAccessKey> {
        let text = base64.trim();
        let bytes = STANDARD.decode(text).map_err(|_| InvalidAccessKey)?;
        if bytes.is_empty() {
            return Err(InvalidAccessKey);
        }
        Ok(Self {
            text: text.into(),
            bytes: bytes.into(),
        })
    }

    /// The key as base64 text.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::AccessKey;
    ///
    /// let key = AccessKey::new("c2VjcmV0")?;
    /// assert_eq!(key.expose_secret(), "c2VjcmV0");
    /// # Ok::<(), acs_identity::InvalidAccessKey>(())
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The decoded key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(***)")
    }
}

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

/// Caches an Entra token until shortly before it expires; concurrent callers
/// share one request.
#[derive(Debug)]
pub(crate) struct TokenCache {
    credential: Arc<dyn TokenCredential>,
    cached: tokio::sync::Mutex<Option<EntraToken>>,
}

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl TokenCache {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn token(&self, now: SystemTime) -> Result<EntraToken, CredentialError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_on > now + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let token = self.credential.get_token(&[ENTRA_SCOPE]).await?;
        if token.expires_on <= now {
            return Err(CredentialError::new(
                "the credential returned an expired token",
                None,
            ));
        }
        *cached = Some(token.clone());
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Counting {
        calls: AtomicU32,
        lifetime: Duration,
        now: SystemTime,
    }

    impl TokenCredential for Counting {
        fn get_token<'a>(
            &'a self,
            scopes: &'a [&'a str],
        ) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
            assert_eq!(scopes, [ENTRA_SCOPE]);
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let token = EntraToken::new(format!("token-{n}"), self.now + self.lifetime);
            Box::pin(async move { Ok(token) })
        }
    }

    #[test]
    fn access_key_refuses_bad_base64_and_hides_itself() {
        assert_eq!(AccessKey::new("%%%").unwrap_err(), InvalidAccessKey);
        assert_eq!(AccessKey::new("").unwrap_err(), InvalidAccessKey);
        let key = AccessKey::new("c2VjcmV0").unwrap();
        assert_eq!(key.bytes(), b"secret");
        assert!(!format!("{key:?}").contains("c2Vj"));
    }

    #[tokio::test]
    async fn cache_reuses_a_fresh_token_and_renews_near_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cred = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Duration::from_secs(3600),
            now,
        });
        let cache = TokenCache::new(cred.clone());
        assert_eq!(cache.token(now).await.unwrap().expose_secret(), "token-0");
        assert_eq!(
            cache
                .token(now + Duration::from_secs(60))
                .await
                .unwrap()
                .expose_secret(),
            "token-0"
        );
        assert_eq!(cred.calls.load(Ordering::SeqCst), 1);
        // Within five minutes of expiry: renewed.
        let late = now + Duration::from_secs(3600 - 120);
        assert_eq!(cache.token(late).await.unwrap().expose_secret(), "token-1");
    }

    #[tokio::test]
    async fn an_expired_token_from_the_credential_is_an_error() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cred = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime: Duration::ZERO,
            now,
        });
        let err = TokenCache::new(cred).token(now).await.unwrap_err();
        assert!(err.to_string().contains("expired"));
    }

    #[test]
    fn entra_token_debug_hides_the_token() {
        let t = EntraToken::new("eyJhbGciOi.secret", SystemTime::UNIX_EPOCH);
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
