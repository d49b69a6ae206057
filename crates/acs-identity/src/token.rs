//! Access tokens and lifetimes.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::identifier::CommunicationUserIdentifier;

/// A Communication Services access token: a JWT a chat or calling client
/// presents, and when it expires. `Debug` hides the token.
///
/// # Examples
///
/// ```
/// use acs_identity::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOi.payload.sig", "2025-02-10T21:39:39Z".parse()?);
/// assert_eq!(token.token(), "eyJhbGciOi.payload.sig");
/// assert!(!format!("{token:?}").contains("eyJ"));
/// # Ok::<(), chrono::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: String,
    expires_on: DateTime<Utc>,
}

impl AccessToken {
    /// A token and its expiry.
    pub fn new(token: impl Into<String>, expires_on: DateTime<Utc>) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }

    /// The token (a secret: whoever holds it acts as the user).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// When the token expires.
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunicationUserAndToken {
    /// The user.
    pub user: CommunicationUserIdentifier,
    /// Its token.
    pub access_token: AccessToken,
}

/// The shortest token lifetime the service issues.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The longest token lifetime the service issues (and its default).
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
