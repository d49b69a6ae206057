//! The cache of Entra ID tokens a client authenticates with.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{CredentialError, ENTRA_SCOPE, EntraToken, TokenCredential};

/// Caches an Entra token until shortly before it expires; concurrent callers
/// share one request.
#[derive(Debug, Clone)]
pub(crate) struct TokenCache {
    credential: Arc<dyn TokenCredential>,
    /// Shared by the clones (of a builder, and the clients it builds).
    cached: Arc<tokio::sync::Mutex<Option<EntraToken>>>,
}

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl TokenCache {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            cached: Arc::new(tokio::sync::Mutex::new(None)),
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
    use crate::credential::BoxFuture;
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
}
