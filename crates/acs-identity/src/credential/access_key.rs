//! The resource's access key.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_refuses_bad_base64_and_hides_itself() {
        assert_eq!(AccessKey::new("%%%").unwrap_err(), InvalidAccessKey);
        assert_eq!(AccessKey::new("").unwrap_err(), InvalidAccessKey);
        let key = AccessKey::new("c2VjcmV0").unwrap();
        assert_eq!(key.bytes(), b"secret");
        assert!(!format!("{key:?}").contains("c2Vj"));
    }
}
