//! api-versions.

use crate::error::{Error, Result};

/// The api-version the stable client sends unless told otherwise.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, STABLE_DEFAULT};
///
/// let client = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert_eq!(client.api_version(), STABLE_DEFAULT);
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub const STABLE_DEFAULT: &str = "2025-06-30";
/// The api-version the preview client sends unless told otherwise.
///
/// # Examples
///
/// ```
/// use acs_identity::{PREVIEW_DEFAULT, preview::CommunicationIdentityClient};
///
/// let client = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert_eq!(client.api_version(), PREVIEW_DEFAULT);
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub const PREVIEW_DEFAULT: &str = "2025-03-02-preview";
/// Stable api-versions the service accepts, oldest first. Older ones lack
/// the Teams Phone extension operations (the service answers those with an
/// error). This is the list `cargo xtask regen` derives from `spec/`
/// (`acs_identity_raw::STABLE_VERSIONS`), which the emulator serves too;
/// [`raw::API_VERSIONS`](crate::raw::API_VERSIONS) has each version's
/// operations.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, STABLE_DEFAULT, STABLE_VERSIONS};
///
/// assert!(STABLE_VERSIONS.contains(&STABLE_DEFAULT));
/// let conn = "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0";
/// for version in STABLE_VERSIONS {
///     let client = CommunicationIdentityClient::builder_from_connection_string(conn)?.api_version(*version).build()?;
///     assert_eq!(client.api_version(), *version);
/// }
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub const STABLE_VERSIONS: &[&str] = acs_identity_raw::STABLE_VERSIONS;

/// Preview api-versions this crate has a client for, oldest first (from
/// `spec/`, like [`STABLE_VERSIONS`]).
///
/// # Examples
///
/// ```
/// use acs_identity::{PREVIEW_DEFAULT, PREVIEW_VERSIONS};
///
/// assert!(PREVIEW_VERSIONS.contains(&PREVIEW_DEFAULT));
/// assert!(PREVIEW_VERSIONS.iter().all(|v| v.ends_with("-preview")));
/// ```
pub const PREVIEW_VERSIONS: &[&str] = acs_identity_raw::PREVIEW_VERSIONS;

/// Checks that `version` looks like an api-version (`YYYY-MM-DD`, with a
/// `-preview…` suffix exactly when `preview`).
pub(crate) fn check(version: &str, preview: bool) -> Result<()> {
    let bad = || {
        Error::invalid(
            "api_version",
            format!("{version:?} is not of the form YYYY-MM-DD[-preview]"),
        )
    };
    let (Some(date), Some(suffix)) = (version.get(..10), version.get(10..)) else {
        return Err(bad());
    };
    let digits_ok = date.char_indices().all(|(i, c)| {
        if i == 4 || i == 7 {
            c == '-'
        } else {
            c.is_ascii_digit()
        }
    });
    let suffix_ok = suffix.is_empty()
        || (suffix.starts_with("-preview")
            && suffix[1..].chars().all(|c| c.is_ascii_alphanumeric()));
    if !digits_ok || !suffix_ok {
        return Err(bad());
    }
    match (preview, suffix.is_empty()) {
        (false, false) => Err(Error::invalid(
            "api_version",
            format!(
                "{version} is a preview version: use acs_identity::preview::CommunicationIdentityClient"
            ),
        )),
        (true, true) => Err(Error::invalid(
            "api_version",
            format!("{version} is a stable version: the preview client needs a preview version"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked_by_kind() {
        for v in STABLE_VERSIONS {
            check(v, false).unwrap();
        }
        check(PREVIEW_DEFAULT, true).unwrap();
        check("2021-03-31-preview1", true).unwrap();
        assert!(
            check(PREVIEW_DEFAULT, false)
                .unwrap_err()
                .to_string()
                .contains("preview::CommunicationIdentityClient")
        );
        assert!(check(STABLE_DEFAULT, true).is_err());
        for bad in [
            "",
            "latest",
            "2025-6-30",
            "2025-06-30x",
            "2025-06-30-preview!",
            "2025/06/30",
            "2025-06-3é",
        ] {
            assert!(
                check(bad, false).is_err() && check(bad, true).is_err(),
                "{bad}"
            );
        }
    }
}
