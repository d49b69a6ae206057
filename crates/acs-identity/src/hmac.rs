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
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;

use crate::credential::AccessKey;

/// The three headers a signed request carries.
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
    let string_to_sign = format!(
        "{}\n{}\n{};{};{}",
        method.to_ascii_uppercase(),
        path_and_query(url),
        date,
        host(url),
        content_hash
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    SignedHeaders {
        date,
        content_hash,
        authorization: format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        ),
    }
}

/// The `host` value that is signed: the host, with `:port` only when the
/// URL names a port other than the scheme's default.
pub fn host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The request target as sent: the encoded path, then `?` and the query when
/// the URL has one.
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
    let value =
        |s: &str| reqwest::header::HeaderValue::from_str(s).expect("signature headers are ASCII");
    headers.insert("x-ms-date", value(&signed.date));
    headers.insert("x-ms-content-sha256", value(&signed.content_hash));
    let mut auth = value(&signed.authorization);
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key() -> AccessKey {
        AccessKey::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
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
