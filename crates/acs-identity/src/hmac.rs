//! HMAC-SHA256 request signing, as every ACS data-plane API expects it.
//!
//! ```text
//! content_hash   = base64(SHA-256(body))
//! string_to_sign = METHOD \n path?query \n x-ms-date;host;content_hash
//! Authorization  = HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=base64(HMAC(key, string_to_sign))
//! ```
//!
//! `path?query` is the request target as sent (percent-encoded, query as is);
//! `host` carries `:port` only when the port is not the scheme's default;
//! `x-ms-date` is an RFC 1123 date in GMT.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use url::{Position, Url};

use crate::credential::AccessKey;

/// The three headers a signed request carries.
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessKey, hmac::sign};
/// use std::time::SystemTime;
///
/// let key = AccessKey::new("c2VjcmV0")?;
/// let url = "https://contoso.communication.azure.com/identities?api-version=2025-06-30".parse()?;
/// let headers = sign("POST", &url, b"{}", SystemTime::now(), &key);
/// // Send them as `x-ms-date`, `x-ms-content-sha256` and `Authorization`.
/// assert_eq!(headers.content_hash, "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=");
/// assert!(!format!("{headers:?}").contains(&headers.authorization), "Debug hides the signature");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `x-ms-date`.
    pub date: String,
    /// `x-ms-content-sha256`.
    pub content_hash: String,
    /// `Authorization`.
    pub authorization: String,
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("date", &self.date)
            .field("content_hash", &self.content_hash)
            .field(
                "authorization",
                &"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=***",
            )
            .finish()
    }
}

/// Signs a request: a pure function of its method, URL, body bytes, date and
/// the access key.
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessKey, hmac::sign};
/// use std::time::{Duration, SystemTime};
///
/// let key = AccessKey::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")?;
/// let url = "https://contoso.communication.azure.com/identities?api-version=2023-10-01".parse()?;
/// let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200); // 2024-01-01T00:00:00Z
/// let headers = sign("POST", &url, br#"{"createTokenWithScopes":["chat"]}"#, date, &key);
/// assert_eq!(headers.date, "Mon, 01 Jan 2024 00:00:00 GMT");
/// assert_eq!(headers.content_hash, "WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A=");
/// assert!(headers.authorization.starts_with("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign(
    method: &str,
    url: &Url,
    body: &[u8],
    date: SystemTime,
    key: &AccessKey,
) -> SignedHeaders {
    let content_hash = STANDARD.encode(Sha256::digest(body));
    let date = httpdate::fmt_http_date(date);
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes keys of any length");
    // The string to sign, fed in pieces rather than built: the method in
    // upper case, `path?query` and `host[:port]` as the URL serializes them
    // (the same text as `path_and_query` and `host`).
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        mac.update(method.to_ascii_uppercase().as_bytes());
    } else {
        mac.update(method.as_bytes());
    }
    for part in [
        "\n",
        &url[Position::BeforePath..Position::AfterQuery],
        "\n",
        &date,
        ";",
        &url[Position::BeforeHost..Position::AfterPort],
        ";",
        &content_hash,
    ] {
        mac.update(part.as_bytes());
    }
    let mut authorization = String::with_capacity(AUTHORIZATION_PREFIX.len() + 44);
    authorization.push_str(AUTHORIZATION_PREFIX);
    STANDARD.encode_string(mac.finalize().into_bytes(), &mut authorization);
    SignedHeaders {
        date,
        content_hash,
        authorization,
    }
}

const AUTHORIZATION_PREFIX: &str =
    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";

/// The `host` value that is signed: the host, with `:port` only when the
/// URL names a port other than the scheme's default.
///
/// # Examples
///
/// ```
/// use acs_identity::hmac::host;
///
/// assert_eq!(host(&"https://contoso.communication.azure.com:443/x".parse()?), "contoso.communication.azure.com");
/// assert_eq!(host(&"http://127.0.0.1:8080/x".parse()?), "127.0.0.1:8080");
/// # Ok::<(), url::ParseError>(())
/// ```
pub fn host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The request target as sent: the encoded path, then `?` and the query when
/// the URL has one.
///
/// # Examples
///
/// ```
/// use acs_identity::hmac::path_and_query;
///
/// let url = "https://contoso.communication.azure.com/identities/8%3Aacs%3Ax?api-version=2025-06-30".parse()?;
/// assert_eq!(path_and_query(&url), "/identities/8%3Aacs%3Ax?api-version=2025-06-30");
/// assert_eq!(path_and_query(&"https://contoso.communication.azure.com/".parse()?), "/");
/// # Ok::<(), url::ParseError>(())
/// ```
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// Signs `request` in place, replacing any earlier signature.
pub(crate) fn sign_request(request: &mut reqwest::Request, key: &AccessKey, now: SystemTime) {
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default();
    let signed = sign(request.method().as_str(), request.url(), body, now, key);
    let headers = request.headers_mut();
    // The strings become the header values without a copy.
    let value = |s: String| {
        reqwest::header::HeaderValue::from_maybe_shared(bytes::Bytes::from(s))
            .expect("signature headers are ASCII")
    };
    headers.insert(X_MS_DATE.clone(), value(signed.date));
    headers.insert(X_MS_CONTENT_SHA256.clone(), value(signed.content_hash));
    let mut auth = value(signed.authorization);
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth);
}

static X_MS_DATE: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("x-ms-date");
static X_MS_CONTENT_SHA256: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("x-ms-content-sha256");

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key() -> AccessKey {
        AccessKey::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
    }

    /// The signature over the string to sign built in one piece from
    /// `host` and `path_and_query`, as the scheme states it.
    fn reference_signature(method: &str, url: &Url, date: &str, hash: &str) -> String {
        let string_to_sign = format!(
            "{}\n{}\n{date};{};{hash}",
            method.to_ascii_uppercase(),
            path_and_query(url),
            host(url)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(key().bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signature_is_over_the_documented_string_for_every_url_shape() {
        for (method, url) in [
            (
                "POST",
                "https://contoso.communication.azure.com/identities?api-version=2025-06-30",
            ),
            (
                "post",
                "http://127.0.0.1:8080/identities/8:acs:x_y/:issueAccessToken?api-version=1",
            ),
            ("GET", "https://example.com:443/testPath"),
            ("Delete", "http://[::1]:9/a%20b/c?"),
            ("PUT", "http://h:80/?a=1&b=%2F"),
            ("PATCH", "https://user:pw@r.example:8443/x/y/?q"),
        ] {
            let url = Url::parse(url).unwrap();
            let h = sign(method, &url, b"{}", jan_1_2024(), &key());
            let want = reference_signature(method, &url, &h.date, &h.content_hash);
            assert_eq!(
                h.authorization,
                format!("{AUTHORIZATION_PREFIX}{want}"),
                "{method} {url}"
            );
        }
    }

    fn jan_1_2024() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    // Vectors from the scheme's worked examples, computed independently of
    // this code.
    #[test]
    fn worked_example_default_port() {
        let url =
            Url::parse("https://contoso.communication.azure.com/identities?api-version=2023-10-01")
                .unwrap();
        let h = sign(
            "POST",
            &url,
            br#"{"createTokenWithScopes":["chat"]}"#,
            jan_1_2024(),
            &key(),
        );
        assert_eq!(h.date, "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(
            h.content_hash,
            "WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A="
        );
        assert_eq!(
            h.authorization,
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=eRKgag+BCIlClZsADk7sR7AuJyQYIYtvc1kV6GYrGK8="
        );
    }

    #[test]
    fn worked_example_non_default_port_and_escaped_id() {
        let url = Url::parse(
            "https://localhost:8443/identities/8%3Aacs%3Aabc_def/:issueAccessToken?api-version=2023-10-01",
        )
        .unwrap();
        let h = sign(
            "post",
            &url,
            br#"{"scopes":["voip"],"expiresInMinutes":60}"#,
            jan_1_2024(),
            &key(),
        );
        assert_eq!(
            h.content_hash,
            "GNtmihW0aWKrZ0DRV1+wUfLysZuegWcqHu8n9mgUyTE="
        );
        assert!(
            h.authorization
                .ends_with("Signature=czCzGC4p9mNXUvC/Gkwm7FlWGWH4bpbM4KkQ/1mM/FY="),
            "{}",
            h.authorization
        );
    }

    #[test]
    fn empty_body_hash_and_host_rules() {
        let url = Url::parse("https://example.com:443/testPath").unwrap();
        let h = sign("GET", &url, b"", jan_1_2024(), &key());
        assert_eq!(
            h.content_hash,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(host(&url), "example.com", "the default port is not signed");
        assert_eq!(path_and_query(&url), "/testPath", "no `?` without a query");
        assert_eq!(
            host(&Url::parse("http://127.0.0.1:8080/").unwrap()),
            "127.0.0.1:8080"
        );
        assert_eq!(host(&Url::parse("http://[::1]:9/").unwrap()), "[::1]:9");
        assert_eq!(host(&Url::parse("http://h:80/").unwrap()), "h");
    }

    #[test]
    fn every_input_changes_the_signature() {
        let url = Url::parse("https://a.example/x?api-version=1").unwrap();
        let base = sign("POST", &url, b"{}", jan_1_2024(), &key()).authorization;
        let other_url = Url::parse("https://a.example/y?api-version=1").unwrap();
        let other_key = AccessKey::new("b3RoZXI=").unwrap();
        let later = jan_1_2024() + Duration::from_secs(1);
        for changed in [
            sign("PUT", &url, b"{}", jan_1_2024(), &key()).authorization,
            sign("POST", &other_url, b"{}", jan_1_2024(), &key()).authorization,
            sign("POST", &url, b"{ }", jan_1_2024(), &key()).authorization,
            sign("POST", &url, b"{}", later, &key()).authorization,
            sign("POST", &url, b"{}", jan_1_2024(), &other_key).authorization,
        ] {
            assert_ne!(changed, base);
        }
    }

    #[test]
    fn debug_hides_the_signature() {
        let url = Url::parse("https://a.example/x").unwrap();
        let h = sign("GET", &url, b"", jan_1_2024(), &key());
        let sig = h.authorization.rsplit('=').nth(1).unwrap().to_string();
        assert!(!format!("{h:?}").contains(&h.authorization));
        assert!(!format!("{h:?}").contains(&sig) || sig.is_empty());
    }

    #[test]
    fn sign_request_sets_the_three_headers() {
        let client = reqwest::Client::new();
        let mut req = client
            .post("http://127.0.0.1:7/identities?api-version=2025-06-30")
            .body("{}")
            .build()
            .unwrap();
        sign_request(&mut req, &key(), jan_1_2024());
        let want = sign("POST", req.url(), b"{}", jan_1_2024(), &key());
        assert_eq!(req.headers()["x-ms-date"], want.date.as_str());
        assert_eq!(
            req.headers()["x-ms-content-sha256"],
            want.content_hash.as_str()
        );
        assert_eq!(req.headers()["authorization"], want.authorization.as_str());
        assert!(req.headers()["authorization"].is_sensitive());
    }
}
