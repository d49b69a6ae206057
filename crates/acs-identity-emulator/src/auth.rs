//! Request authentication, checked the way the service checks it.
//!
//! HMAC: `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=S`
//! where `S = base64(HMAC-SHA256(key, METHOD \n path?query \n date;host;hash))`,
//! over the path and query exactly as received, the `x-ms-date` header (no
//! more than 15 minutes off), the `Host` header, and a content hash that must
//! equal the SHA-256 of the body received. Written independently of the
//! client's signer.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::inspect::Refusal;

/// How far `x-ms-date` may be from the emulator's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// How a request authenticated itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// With the access key.
    Key,
    /// With a bearer token.
    Bearer(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The service's bare 401, with `check` for the request log.
fn refused(message: &str, check: impl Into<String>) -> ApiError {
    ApiError::unauthorized("Unauthorized", message.to_string()).with_refusal(Refusal::check(check))
}

fn missing(name: &str) -> ApiError {
    refused(
        &format!("The {name} header is missing."),
        format!("missing header: {name}"),
    )
}

/// Checks the request's authentication. A refusal says in its
/// [`Refusal`] which check failed and, once the emulator got that far,
/// the content hash it computed and the string it signed.
pub fn authenticate(
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    key: &[u8],
    now: SystemTime,
) -> Result<Caller, ApiError> {
    let authorization = header(headers, "authorization").ok_or_else(|| missing("Authorization"))?;
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        let token = token.trim();
        if token.is_empty() {
            return Err(refused("The bearer token is empty.", "empty bearer token"));
        }
        return Ok(Caller::Bearer(token.to_string()));
    }
    let rest = authorization.strip_prefix("HMAC-SHA256 ").ok_or_else(|| {
        refused(
            "The Authorization scheme must be HMAC-SHA256 or Bearer.",
            "unknown Authorization scheme",
        )
    })?;
    let (signed_headers, signature) = parse_hmac(rest).ok_or_else(|| {
        refused(
            "The Authorization header is malformed.",
            "malformed Authorization header (expected SignedHeaders=…&Signature=…)",
        )
    })?;
    if !signed_headers.eq_ignore_ascii_case("x-ms-date;host;x-ms-content-sha256") {
        return Err(refused(
            "SignedHeaders must be x-ms-date;host;x-ms-content-sha256.",
            "SignedHeaders is not x-ms-date;host;x-ms-content-sha256",
        ));
    }
    let date = header(headers, "x-ms-date").ok_or_else(|| missing("x-ms-date"))?;
    let when = httpdate::parse_http_date(date).map_err(|_| {
        refused(
            "The x-ms-date header is not an RFC 1123 date.",
            "x-ms-date is not an RFC 1123 date",
        )
    })?;
    let skew = now
        .duration_since(when)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    if skew > MAX_CLOCK_SKEW {
        return Err(refused(
            "The x-ms-date header is more than 15 minutes from the current time.",
            format!(
                "date skew: x-ms-date is {} s from the emulator's clock ({}), more than 15 minutes",
                skew.as_secs(),
                httpdate::fmt_http_date(now)
            ),
        ));
    }
    let host = header(headers, "host").ok_or_else(|| missing("Host"))?;
    let content_hash =
        header(headers, "x-ms-content-sha256").ok_or_else(|| missing("x-ms-content-sha256"))?;
    let actual_hash = STANDARD.encode(Sha256::digest(body));
    if content_hash != actual_hash {
        return Err(ApiError::unauthorized(
            "Unauthorized",
            "The x-ms-content-sha256 header does not match the body.",
        )
        .with_refusal(Refusal {
            check:
                "content hash mismatch: x-ms-content-sha256 is not the SHA-256 of the body received"
                    .into(),
            content_hash: Some(actual_hash),
            string_to_sign: None,
        }));
    }
    let signature = STANDARD.decode(signature).map_err(|_| {
        refused(
            "The signature is not base64.",
            "the signature is not base64",
        )
    })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    // METHOD \n path?query \n date;host;hash, fed in pieces.
    let method = method.to_ascii_uppercase();
    let pieces = [
        method.as_str(),
        "\n",
        path_and_query,
        "\n",
        date,
        ";",
        host,
        ";",
        content_hash,
    ];
    for part in pieces {
        mac.update(part.as_bytes());
    }
    // verify_slice compares in constant time.
    mac.verify_slice(&signature).map_err(|_| {
        ApiError::unauthorized("Unauthorized", "The request signature was refused.").with_refusal(Refusal {
            check: "signature mismatch: the signature is not the HMAC-SHA256 of the string to sign with this emulator's key".into(),
            content_hash: Some(actual_hash.clone()),
            string_to_sign: Some(pieces.concat()),
        })
    })?;
    Ok(Caller::Key)
}

/// `SignedHeaders=a;b;c&Signature=S` → (`a;b;c`, `S`).
fn parse_hmac(rest: &str) -> Option<(&str, &str)> {
    let (first, second) = rest.split_once('&')?;
    let signed = first.trim().strip_prefix("SignedHeaders=")?;
    let signature = second.trim().strip_prefix("Signature=")?;
    Some((signed, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn jan_1_2024() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    /// The scheme's worked example, as a received request.
    fn example() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-date",
            HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"),
        );
        h.insert(
            "host",
            HeaderValue::from_static("contoso.communication.azure.com"),
        );
        h.insert(
            "x-ms-content-sha256",
            HeaderValue::from_static("WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A="),
        );
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=eRKgag+BCIlClZsADk7sR7AuJyQYIYtvc1kV6GYrGK8=",
            ),
        );
        h
    }

    const BODY: &[u8] = br#"{"createTokenWithScopes":["chat"]}"#;
    const PQ: &str = "/identities?api-version=2023-10-01";

    #[test]
    fn the_worked_example_is_accepted() {
        assert_eq!(
            authenticate("POST", PQ, &example(), BODY, KEY, jan_1_2024()),
            Ok(Caller::Key)
        );
    }

    #[test]
    fn every_tampering_is_refused() {
        let now = jan_1_2024();
        assert!(
            authenticate("POST", PQ, &example(), b"{}", KEY, now).is_err(),
            "tampered body"
        );
        assert!(
            authenticate("PUT", PQ, &example(), BODY, KEY, now).is_err(),
            "other method"
        );
        assert!(
            authenticate(
                "POST",
                "/identities?api-version=2025-06-30",
                &example(),
                BODY,
                KEY,
                now
            )
            .is_err(),
            "other path"
        );
        assert!(
            authenticate("POST", PQ, &example(), BODY, b"other key", now).is_err(),
            "other key"
        );
        let mut h = example();
        h.insert("host", HeaderValue::from_static("evil.example"));
        assert!(
            authenticate("POST", PQ, &h, BODY, KEY, now).is_err(),
            "wrong host"
        );
        let late = now + MAX_CLOCK_SKEW + Duration::from_secs(1);
        let early = now - MAX_CLOCK_SKEW - Duration::from_secs(1);
        let err = authenticate("POST", PQ, &example(), BODY, KEY, late).unwrap_err();
        assert!(err.message.contains("15 minutes"));
        assert!(
            authenticate("POST", PQ, &example(), BODY, KEY, early).is_err(),
            "future date"
        );
        for missing in ["x-ms-date", "host", "x-ms-content-sha256", "authorization"] {
            let mut h = example();
            h.remove(missing);
            let err = authenticate("POST", PQ, &h, BODY, KEY, now).unwrap_err();
            assert_eq!(err.status, 401, "{missing}");
            let check = err.refusal.unwrap().check.to_ascii_lowercase();
            assert_eq!(check, format!("missing header: {missing}"));
        }
    }

    #[test]
    fn refusals_say_which_check_failed_and_what_was_computed() {
        let now = jan_1_2024();
        let check = |e: ApiError| *e.refusal.expect("explained");
        let r = check(authenticate("POST", PQ, &example(), b"{}", KEY, now).unwrap_err());
        assert!(r.check.starts_with("content hash mismatch"), "{}", r.check);
        assert_eq!(
            r.content_hash.as_deref(),
            Some("RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=")
        );
        assert_eq!(r.string_to_sign, None);
        let r = check(authenticate("POST", PQ, &example(), BODY, b"other key", now).unwrap_err());
        assert!(r.check.starts_with("signature mismatch"), "{}", r.check);
        assert_eq!(
            r.string_to_sign.as_deref(),
            Some(
                "POST\n/identities?api-version=2023-10-01\nMon, 01 Jan 2024 00:00:00 GMT;contoso.communication.azure.com;WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A="
            )
        );
        // Never the key, in any form.
        let text = format!("{r:?}");
        assert!(!text.contains("other key") && !text.contains("b3RoZXIga2V5"));
        let late = now + MAX_CLOCK_SKEW + Duration::from_secs(60);
        let r = check(authenticate("POST", PQ, &example(), BODY, KEY, late).unwrap_err());
        assert!(
            r.check.starts_with("date skew: x-ms-date is 960 s"),
            "{}",
            r.check
        );
    }

    #[test]
    fn bearer_tokens_are_passed_on() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        assert_eq!(
            authenticate("POST", "/", &h, b"", KEY, jan_1_2024()),
            Ok(Caller::Bearer("abc.def.ghi".into()))
        );
    }
}
