//! Connection strings: `endpoint=https://…;accesskey=…`.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::credential::AccessKey;

/// A parsed ACS connection string: an endpoint and an access key.
///
/// Keys are case-insensitive and may come in any order; a trailing `;` and
/// white space around keys and values are ignored; `http://` endpoints are
/// allowed (for the local emulator). `Debug` hides the key and there is no
/// `Display`, so printing one never shows the secret.
///
/// # Examples
///
/// ```
/// use acs_identity::ConnectionString;
///
/// let cs: ConnectionString =
///     " AccessKey=a2V5;Endpoint=https://my-resource.communication.azure.com/; ".parse()?;
/// assert_eq!(cs.endpoint().as_str(), "https://my-resource.communication.azure.com/");
/// assert!(!format!("{cs:?}").contains("a2V5"));
/// # Ok::<(), acs_identity::ConnectionStringError>(())
/// ```
#[derive(Clone)]
pub struct ConnectionString {
    endpoint: Url,
    access_key: AccessKey,
}

/// Why a connection string was refused. The text never contains the key.
///
/// # Examples
///
/// ```
/// use acs_identity::{ConnectionString, ConnectionStringError};
///
/// let err = ConnectionString::parse("endpoint=https://my-resource.communication.azure.com/").unwrap_err();
/// assert_eq!(err, ConnectionStringError::MissingAccessKey);
/// let err = ConnectionString::parse("endpoint=my-resource;accesskey=c2VjcmV0").unwrap_err();
/// assert!(matches!(err, ConnectionStringError::InvalidEndpoint { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionStringError {
    /// No `endpoint=` part.
    #[error("no `endpoint`")]
    MissingEndpoint,
    /// No `accesskey=` part.
    #[error("no `accesskey`")]
    MissingAccessKey,
    /// The access key is not standard base64.
    #[error("`accesskey` is not base64")]
    AccessKeyNotBase64,
    /// The endpoint is not an absolute `http` or `https` URL.
    #[error("`endpoint` is not an absolute http(s) URL: {reason}")]
    InvalidEndpoint {
        /// What is wrong with it.
        reason: String,
    },
    /// A part whose key is neither `endpoint` nor `accesskey`. The key is
    /// not shown: a pasted secret could be mistaken for one.
    #[error("part {position} has a key other than `endpoint` or `accesskey`")]
    UnknownKey {
        /// 1-based position of the part.
        position: usize,
    },
    /// A key given twice.
    #[error("`{key}` given twice")]
    DuplicateKey {
        /// `endpoint` or `accesskey`.
        key: &'static str,
    },
    /// A non-empty part without `=`.
    #[error("part {position} has no `=`")]
    MissingEquals {
        /// 1-based position of the part.
        position: usize,
    },
}

impl ConnectionString {
    /// Parses a connection string.
    ///
    /// # Errors
    ///
    /// [`ConnectionStringError`], one variant per kind of bad input.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{ConnectionString, ConnectionStringError};
    ///
    /// let cs = ConnectionString::parse("endpoint=http://127.0.0.1:8080/;accesskey=c2VjcmV0")?;
    /// assert_eq!(cs.endpoint().port(), Some(8080));
    /// let typo = ConnectionString::parse("endpoint=https://r.example;acesskey=c2VjcmV0");
    /// assert!(matches!(typo, Err(ConnectionStringError::UnknownKey { .. })));
    /// # Ok::<(), ConnectionStringError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self, ConnectionStringError> {
        let mut endpoint = None;
        let mut access_key = None;
        for (index, part) in s.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((key, value)) = part.split_once('=') else {
                return Err(ConnectionStringError::MissingEquals {
                    position: index + 1,
                });
            };
            let key = key.trim();
            let value = value.trim();
            if key.eq_ignore_ascii_case("endpoint") {
                if endpoint.replace(value).is_some() {
                    return Err(ConnectionStringError::DuplicateKey { key: "endpoint" });
                }
            } else if key.eq_ignore_ascii_case("accesskey") {
                if access_key.replace(value).is_some() {
                    return Err(ConnectionStringError::DuplicateKey { key: "accesskey" });
                }
            } else {
                return Err(ConnectionStringError::UnknownKey {
                    position: index + 1,
                });
            }
        }
        let endpoint = endpoint.ok_or(ConnectionStringError::MissingEndpoint)?;
        let access_key = access_key.ok_or(ConnectionStringError::MissingAccessKey)?;
        let endpoint = parse_endpoint(endpoint)?;
        let access_key =
            AccessKey::new(access_key).map_err(|_| ConnectionStringError::AccessKeyNotBase64)?;
        Ok(Self {
            endpoint,
            access_key,
        })
    }

    /// The endpoint, e.g. `https://my-resource.communication.azure.com/`.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::ConnectionString;
    ///
    /// let cs: ConnectionString = "endpoint=https://my-resource.communication.azure.com;accesskey=c2VjcmV0".parse()?;
    /// assert_eq!(cs.endpoint().as_str(), "https://my-resource.communication.azure.com/");
    /// # Ok::<(), acs_identity::ConnectionStringError>(())
    /// ```
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The access key.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::ConnectionString;
    ///
    /// let cs: ConnectionString = "endpoint=https://my-resource.communication.azure.com;accesskey=c2VjcmV0".parse()?;
    /// assert_eq!(cs.access_key().expose_secret(), "c2VjcmV0");
    /// # Ok::<(), acs_identity::ConnectionStringError>(())
    /// ```
    pub fn access_key(&self) -> &AccessKey {
        &self.access_key
    }

    /// Splits into endpoint and key.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationIdentityClient, ConnectionString};
    ///
    /// let cs: ConnectionString = "endpoint=https://my-resource.communication.azure.com;accesskey=c2VjcmV0".parse()?;
    /// let (endpoint, key) = cs.into_parts();
    /// let client = CommunicationIdentityClient::builder(endpoint.as_str()).access_key(key).build()?;
    /// assert_eq!(client.endpoint(), &endpoint);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(self) -> (Url, AccessKey) {
        (self.endpoint, self.access_key)
    }
}

/// Checks an endpoint: an absolute `http`/`https` URL with a host, no query
/// or fragment.
pub(crate) fn parse_endpoint(s: &str) -> Result<Url, ConnectionStringError> {
    let invalid = |reason: &str| ConnectionStringError::InvalidEndpoint {
        reason: reason.into(),
    };
    let url = Url::parse(s).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry user info"));
    }
    Ok(url)
}

impl FromStr for ConnectionString {
    type Err = ConnectionStringError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("endpoint", &self.endpoint.as_str())
            .field("access_key", &self.access_key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionStringError as E;

    const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw=="; // "secret-key-bytes"

    #[test]
    fn accepts_the_forms_users_write() {
        let good = [
            format!("endpoint=https://r.communication.azure.com/;accesskey={KEY}"),
            format!("accesskey={KEY};endpoint=https://r.communication.azure.com/"),
            format!("Endpoint=https://r.communication.azure.com;AccessKey={KEY};"),
            format!("  ENDPOINT = https://r.communication.azure.com/ ; ACCESSKEY = {KEY} ;  "),
            format!("endpoint=http://127.0.0.1:4000/;accesskey={KEY}"),
            format!(";endpoint=https://[::1]:8443/;;accesskey={KEY};"),
        ];
        for s in good {
            let cs = ConnectionString::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(cs.access_key().bytes(), b"secret-key-bytes", "{s}");
            assert!(cs.endpoint().scheme().starts_with("http"));
        }
    }

    #[test]
    fn each_bad_input_has_its_own_error() {
        let cases: &[(&str, E)] = &[
            ("", E::MissingEndpoint),
            ("accesskey=c2VjcmV0", E::MissingEndpoint),
            ("endpoint=https://r.example", E::MissingAccessKey),
            (
                "endpoint=https://r.example;accesskey=not*base64",
                E::AccessKeyNotBase64,
            ),
            (
                "endpoint=https://r.example;accesskey=",
                E::AccessKeyNotBase64,
            ),
            (
                "endpoint=https://a;endpoint=https://b;accesskey=c2VjcmV0",
                E::DuplicateKey { key: "endpoint" },
            ),
            (
                "endpoint=https://a;accesskey=c2VjcmV0;AccessKey=c2VjcmV0",
                E::DuplicateKey { key: "accesskey" },
            ),
            (
                "endpoint=https://a;accesskey=c2VjcmV0;region=west",
                E::UnknownKey { position: 3 },
            ),
            (
                "endpoint=https://a;c2VjcmV0",
                E::MissingEquals { position: 2 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                &ConnectionString::parse(input).unwrap_err(),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn endpoint_must_be_an_absolute_http_url() {
        for bad in [
            "r.communication.azure.com",
            "ftp://r.example",
            "https://",
            "https://r.example/?x=1",
            "https://u:p@r.example",
            "/relative",
        ] {
            let s = format!("endpoint={bad};accesskey={KEY}");
            assert!(
                matches!(ConnectionString::parse(&s), Err(E::InvalidEndpoint { .. })),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn errors_never_show_the_key() {
        let secret_looking =
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTA";
        let inputs = [
            format!("endpoint=https://a;{secret_looking}=="),
            format!("endpoint=nope;accesskey={secret_looking}"),
            format!("endpoint=https://a;accesskey={secret_looking}*"),
            format!("endpoint=https://a;accesskey={secret_looking};accesskey={secret_looking}"),
            secret_looking.to_string(),
        ];
        for input in inputs {
            let err = ConnectionString::parse(&input).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains(&secret_looking[..16]), "{text}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let cs = ConnectionString::parse(&format!("endpoint=https://a.example;accesskey={KEY}"))
            .unwrap();
        let debug = format!("{cs:?}");
        assert!(
            !debug.contains(KEY) && !debug.contains("secret-key"),
            "{debug}"
        );
        assert!(debug.contains("https://a.example/"));
    }
}

/// The environment variables [`connection_string_from_env`] reads, in
/// order: this workspace's name, then the one Microsoft's quickstarts use.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     acs_identity::CONNECTION_STRING_VARIABLES,
///     ["ACS_CONNECTION_STRING", "COMMUNICATION_SERVICES_CONNECTION_STRING"]
/// );
/// ```
pub const CONNECTION_STRING_VARIABLES: [&str; 2] = [
    "ACS_CONNECTION_STRING",
    "COMMUNICATION_SERVICES_CONNECTION_STRING",
];

/// The connection string in the environment: the first of
/// [`CONNECTION_STRING_VARIABLES`] that is set and not blank, with its
/// name. No client constructor reads the environment; call this where you
/// choose to.
///
/// # Examples
///
/// ```no_run
/// use acs_identity::CommunicationIdentityClient;
///
/// let Some((variable, conn)) = acs_identity::connection_string_from_env() else {
///     panic!("set ACS_CONNECTION_STRING or COMMUNICATION_SERVICES_CONNECTION_STRING");
/// };
/// println!("using the resource in {variable}");
/// let client = CommunicationIdentityClient::from_connection_string(&conn)?;
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub fn connection_string_from_env() -> Option<(&'static str, String)> {
    from_variables(|name| std::env::var(name).ok())
}

fn from_variables(var: impl Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    CONNECTION_STRING_VARIABLES.into_iter().find_map(|name| {
        var(name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| (name, value))
    })
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn acs_connection_string_comes_first_then_the_quickstarts_name() {
        let both = |name: &str| Some(format!("from {name}"));
        assert_eq!(
            from_variables(both),
            Some(("ACS_CONNECTION_STRING", "from ACS_CONNECTION_STRING".into()))
        );
        let official = |name: &str| match name {
            "ACS_CONNECTION_STRING" => Some("  ".into()),
            _ => Some("endpoint=x".into()),
        };
        assert_eq!(
            from_variables(official),
            Some((
                "COMMUNICATION_SERVICES_CONNECTION_STRING",
                "endpoint=x".into()
            ))
        );
        assert_eq!(from_variables(|_| None), None);
    }
}
