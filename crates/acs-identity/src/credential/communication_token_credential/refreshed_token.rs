//! What a refresher may return ([`RefreshedToken`]), and why a token is
//! refused ([`InvalidToken`]).

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::token::AccessToken;

/// What a token refresher may return: the token string (its expiry is read
/// from the JWT's `exp` claim), or an [`AccessToken`] (its `expires_on` is
/// used as is, for tokens whose payload cannot be read).
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessToken, RefreshedToken};
///
/// let opaque = AccessToken::new("an.encrypted.token.value", "2030-01-01T00:00:00Z".parse()?);
/// assert_eq!(opaque.clone().into_access_token()?, opaque);
/// assert!(String::from("not a jwt").into_access_token().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RefreshedToken: Send + 'static {
    /// The token and its expiry.
    ///
    /// # Errors
    ///
    /// [`InvalidToken`] when the expiry cannot be read from the token.
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken>;
}

impl RefreshedToken for String {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        let expires_on = token_expiry(&self)?;
        Ok(AccessToken::new(self, expires_on))
    }
}

impl RefreshedToken for &'static str {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        Ok(AccessToken::new(self, token_expiry(self)?))
    }
}

impl RefreshedToken for AccessToken {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        Ok(self)
    }
}

/// Why a token was refused. It is the `source` of the
/// [`Error::Credential`] that [`CommunicationTokenCredential`](crate::CommunicationTokenCredential) returns.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationTokenCredential, Error, InvalidToken};
///
/// let err = CommunicationTokenCredential::from_token("a.b").unwrap_err();
/// assert!(matches!(err, Error::Credential { .. }));
/// let why = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<InvalidToken>());
/// assert_eq!(why, Some(&InvalidToken::NotAJwt { parts: 2 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// The token is empty.
    #[error("the token is empty")]
    Empty,
    /// The token is JSON, such as a whole token response.
    #[error("the token looks like JSON, not a JWT: pass the value of its `token` field")]
    LooksLikeJson,
    /// The token does not have the three dot-separated parts of a JWT.
    #[error("the token is not a JWT: it has {parts} dot-separated part(s) instead of 3")]
    NotAJwt {
        /// How many parts it has.
        parts: usize,
    },
    /// A part is not base64url.
    #[error("the token's JWT {part} is not base64url")]
    Base64 {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// A part is not a JSON object.
    #[error("the token's JWT {part} is not a JSON object")]
    NotJson {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// The payload has no `exp` claim.
    #[error("the token has no `exp` claim")]
    MissingExp,
    /// The `exp` claim is not a number of seconds since 1970.
    #[error("the token's `exp` claim is not a number of seconds since 1970")]
    InvalidExp,
    /// The token has expired.
    #[error("the token expired at {expires_on}")]
    Expired {
        /// When it expired.
        expires_on: DateTime<Utc>,
    },
}

/// Reads the `exp` claim of a JWT, without checking its signature.
pub(super) fn token_expiry(token: &str) -> std::result::Result<DateTime<Utc>, InvalidToken> {
    crate::entra_claims::expiry(&crate::entra_claims::payload(token)?)
}

/// A token passed in by the caller.
pub(super) fn parse_argument(token: &str) -> Result<AccessToken> {
    token
        .to_string()
        .into_access_token()
        .map_err(|e| Error::Credential {
            message: format!("invalid token: {e}"),
            source: Some(Box::new(e)),
        })
}

pub(super) fn expired_error(message: &str, expires_on: DateTime<Utc>) -> Error {
    let expired = InvalidToken::Expired { expires_on };
    Error::Credential {
        message: format!("{message}: {expired}"),
        source: Some(Box::new(expired)),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    use super::*;
    use crate::credential::CommunicationTokenCredential;
    use crate::credential::communication_token_credential::tests::{
        ANCHOR, invalid_token_of, jwt_at, jwt_with_payload,
    };

    #[test]
    fn reads_exp_from_the_payload_with_or_without_padding() {
        let exp = DateTime::from_timestamp(ANCHOR, 0).unwrap();
        assert_eq!(token_expiry(&jwt_at(0)), Ok(exp));
        let payload = format!(r#"{{"exp":{ANCHOR}}}"#);
        let padded = format!(
            "{}.{}.sig",
            URL_SAFE.encode("{}"),
            URL_SAFE.encode(&payload)
        );
        assert!(padded.contains('='));
        assert_eq!(token_expiry(&padded), Ok(exp));
        // A fractional NumericDate is cut to the second.
        assert_eq!(
            token_expiry(&jwt_with_payload(&format!(r#"{{"exp":{ANCHOR}.75}}"#))),
            Ok(exp)
        );
        // base64url's `-` and `_` are decoded (the standard alphabet would not).
        let url_only = jwt_with_payload(&format!(r#"{{"n":"??>>","exp":{ANCHOR}}}"#));
        assert!(url_only.split('.').nth(1).unwrap().contains(['-', '_']));
        assert_eq!(token_expiry(&url_only), Ok(exp));
    }

    #[test]
    fn malformed_tokens_get_typed_errors() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let cases = [
            (String::new(), InvalidToken::Empty),
            ("   ".to_string(), InvalidToken::Empty),
            (
                r#"{"token":"x","expiresOn":"2030-01-01T00:00:00Z"}"#.to_string(),
                InvalidToken::LooksLikeJson,
            ),
            (
                "opaque-token".to_string(),
                InvalidToken::NotAJwt { parts: 1 },
            ),
            ("a.b".to_string(), InvalidToken::NotAJwt { parts: 2 }),
            ("a.b.c.d.e".to_string(), InvalidToken::NotAJwt { parts: 5 }),
            (
                format!("{}.{}.sig", b64("{}"), "not*base64!"),
                InvalidToken::Base64 { part: "payload" },
            ),
            (
                format!("Bearer {}.{}.sig", b64("{}"), b64(r#"{"exp":1}"#)),
                InvalidToken::Base64 { part: "header" },
            ),
            (
                format!("{}.{}.sig", b64("{}"), b64("[1,2]")),
                InvalidToken::NotJson { part: "payload" },
            ),
            (
                format!("{}.{}.sig", b64("plain"), b64(r#"{"exp":1}"#)),
                InvalidToken::NotJson { part: "header" },
            ),
            (jwt_with_payload(r#"{"sub":"x"}"#), InvalidToken::MissingExp),
            (
                jwt_with_payload(r#"{"exp":"1900000000"}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":null}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":1e300}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":18446744073709551615}"#),
                InvalidToken::InvalidExp,
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(token_expiry(&token), Err(expected.clone()), "{token:?}");
            let err = CommunicationTokenCredential::from_token(&token).unwrap_err();
            assert!(matches!(err, Error::Credential { .. }), "{err:?}");
            assert_eq!(invalid_token_of(&err), Some(&expected));
            assert_eq!(
                err.to_string(),
                format!("credential failed: invalid token: {expected}")
            );
        }
    }
}
