//! Access tokens and lifetimes.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::identifier::CommunicationUserIdentifier;

/// A Communication Services access token: a JWT a chat or calling client
/// presents, and when it expires. `Debug` hides the token.
///
/// With serde it is the service's JSON, `{"token": …, "expiresOn": …}`
/// (RFC 3339). That form necessarily holds the token itself: store and
/// send it as the secret it is.
///
/// # Examples
///
/// ```
/// use acs_identity::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOi.payload.sig", "2025-02-10T21:39:39Z".parse()?);
/// assert_eq!(token.token(), "eyJhbGciOi.payload.sig");
/// assert!(!format!("{token:?}").contains("eyJ"));
///
/// let json = serde_json::to_string(&token)?;
/// assert_eq!(json, r#"{"token":"eyJhbGciOi.payload.sig","expiresOn":"2025-02-10T21:39:39Z"}"#);
/// assert_eq!(serde_json::from_str::<AccessToken>(&json)?, token);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    token: String,
    expires_on: DateTime<Utc>,
}

impl AccessToken {
    /// A token and its expiry.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::AccessToken;
    /// use chrono::{Duration, Utc};
    ///
    /// // E.g. a token your token service stored, with the expiry it was issued with.
    /// let expires_on = Utc::now() + Duration::hours(1);
    /// let token = AccessToken::new("eyJhbGciOi.payload.sig", expires_on);
    /// assert_eq!(token.expires_on(), expires_on);
    /// ```
    pub fn new(token: impl Into<String>, expires_on: DateTime<Utc>) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }

    /// The token (a secret: whoever holds it acts as the user).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TokenScope;
    ///
    /// let created = client.create_user_and_token([TokenScope::Chat]).await?;
    /// // Hand this to the chat or calling client of `created.user`.
    /// let jwt = created.access_token.token();
    /// assert_eq!(jwt.split('.').count(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn token(&self) -> &str {
        &self.token
    }

    /// When the token expires.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TokenScope;
    /// use std::time::Duration;
    ///
    /// let user = client.create_user().await?;
    /// let token = client.get_token(&user, [TokenScope::Voip]).expires_in(Duration::from_secs(3600)).await?;
    /// assert!(token.expires_on() > chrono::Utc::now() + Duration::from_secs(3500));
    /// # Ok(())
    /// # }
    /// ```
    pub fn expires_on(&self) -> DateTime<Utc> {
        self.expires_on
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"***")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// A user and an access token issued to it.
///
/// With serde it is `{"user": "<raw id>", "accessToken": {"token": …,
/// "expiresOn": …}}`; like [`AccessToken`]'s, that form holds the token.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{CommunicationUserAndToken, TokenScope};
///
/// let created = client.create_user_and_token([TokenScope::Chat]).await?;
/// let token = client.get_token(&created.user, [TokenScope::Chat]).await?;
/// assert_ne!(token, created.access_token);
///
/// // Cached or forwarded as JSON, and read back.
/// let json = serde_json::to_value(&created)?;
/// assert_eq!(json["user"], created.user.id());
/// let read: CommunicationUserAndToken = serde_json::from_value(json)?;
/// assert_eq!(read, created);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommunicationUserAndToken {
    /// The user.
    pub user: CommunicationUserIdentifier,
    /// Its token.
    pub access_token: AccessToken,
}

/// The shortest token lifetime the service issues.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::{MIN_TOKEN_LIFETIME, TokenScope};
///
/// let user = client.create_user().await?;
/// let token = client.get_token(&user, [TokenScope::Chat]).expires_in(MIN_TOKEN_LIFETIME).await?;
/// assert!(token.expires_on() <= chrono::Utc::now() + MIN_TOKEN_LIFETIME);
/// # Ok(())
/// # }
/// ```
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The longest token lifetime the service issues (and its default).
///
/// # Examples
///
/// ```
/// use acs_identity::{MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
/// use std::time::Duration;
///
/// assert_eq!(MAX_TOKEN_LIFETIME, Duration::from_secs(24 * 60 * 60));
/// assert!(MIN_TOKEN_LIFETIME < MAX_TOKEN_LIFETIME);
/// ```
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Checks a lifetime before anything is sent: whole minutes, from 60 to
/// 1440, and returns the minutes.
pub(crate) fn lifetime_minutes(expires_in: Duration) -> crate::Result<i32> {
    if expires_in.subsec_nanos() != 0 || !expires_in.as_secs().is_multiple_of(60) {
        return Err(crate::Error::invalid(
            "expires_in",
            format!("{expires_in:?} is not a whole number of minutes"),
        ));
    }
    let minutes = expires_in.as_secs() / 60;
    if minutes < 60 {
        return Err(crate::Error::invalid(
            "expires_in",
            format!("{minutes} minutes is below the minimum of 60"),
        ));
    }
    if minutes > 1440 {
        return Err(crate::Error::invalid(
            "expires_in",
            format!("{minutes} minutes is above the maximum of 1440"),
        ));
    }
    Ok(minutes as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_checked_before_sending() {
        assert_eq!(lifetime_minutes(MIN_TOKEN_LIFETIME).unwrap(), 60);
        assert_eq!(lifetime_minutes(MAX_TOKEN_LIFETIME).unwrap(), 1440);
        assert_eq!(lifetime_minutes(Duration::from_secs(90 * 60)).unwrap(), 90);
        let text = |d| lifetime_minutes(d).unwrap_err().to_string();
        assert!(text(Duration::from_secs(59 * 60)).contains("minimum of 60"));
        assert!(text(Duration::from_secs(1441 * 60)).contains("maximum of 1440"));
        assert!(text(Duration::from_secs(3601)).contains("whole number of minutes"));
        assert!(text(Duration::from_millis(3_600_500)).contains("whole number"));
        assert!(text(Duration::from_secs(u64::MAX / 120 * 60)).contains("maximum"));
    }
}
