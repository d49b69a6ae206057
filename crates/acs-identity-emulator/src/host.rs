//! The Host check: the emulator answers loopback names only, so a browser
//! page on a rebinding DNS name (whose Host is that name) cannot reach the
//! API or `/_emulator/*`.
//!
//! - Accepted: `127.0.0.1`, `[::1]` and `localhost` (any case), and the
//!   name or address given with `--host` (`EmulatorBuilder::host`), each
//!   with or without a port (any port, so a port forward works).
//! - Any other name: 421 `MisdirectedRequest`.
//! - No Host in HTTP/1.1, two Host headers, or a Host that is not
//!   `name[:port]` (a space, an empty value, a port that is not a number):
//!   400 `InvalidHostHeader` (RFC 9112 §3.2).
//! - An absolute request target (`GET http://name/…`) and HTTP/2's
//!   `:authority` are checked the same way.

use hyper::header::HOST;
use hyper::{HeaderMap, Uri, Version};

use crate::api_error::ApiError;

const LOOPBACK: &[&str] = &["127.0.0.1", "[::1]", "localhost"];

fn invalid(message: &str) -> ApiError {
    ApiError::new(400, "InvalidHostHeader", message)
}

/// Checks the Host header and the request target's authority; `also` is a
/// configured name accepted besides the loopback ones.
pub fn check(
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    also: Option<&str>,
) -> Result<(), ApiError> {
    let mut hosts = headers.get_all(HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(invalid("The request has more than one Host header."));
    }
    if let Some(value) = header {
        let text = value
            .to_str()
            .map_err(|_| invalid("The Host header is not visible ASCII."))?;
        check_name(text, also)?;
    }
    if let Some(authority) = uri.authority() {
        check_name(authority.as_str(), also)?;
    } else if header.is_none() && version != Version::HTTP_10 && version != Version::HTTP_09 {
        return Err(invalid("The Host header is missing."));
    }
    Ok(())
}

/// Whether `host` (as given to `--host`) is an IP address (IPv6 with or
/// without brackets) or a host name: dot-separated labels of 1 to 63
/// letters, digits, `-` and `_`, not starting or ending with `-`, at most
/// 253 characters, an optional final dot.
pub fn is_address_or_name(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return bare == host || bare.contains(':');
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `name[:port]` with a loopback name or `also`.
fn check_name(host: &str, also: Option<&str>) -> Result<(), ApiError> {
    let (name, port) = split(host)
        .ok_or_else(|| invalid("The Host header must be a host name with an optional port."))?;
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("The port in the Host header is not a number."));
    }
    let configured = also.is_some_and(|a| {
        a.trim_matches(['[', ']'])
            .eq_ignore_ascii_case(name.trim_matches(['[', ']']))
    });
    if configured || LOOPBACK.iter().any(|l| l.eq_ignore_ascii_case(name)) {
        Ok(())
    } else {
        Err(ApiError::new(
            421,
            "MisdirectedRequest",
            "The emulator answers requests for 127.0.0.1, [::1], localhost and the name given with --host only.",
        ))
    }
}

/// Splits `name[:port]` (`[v6][:port]` for IPv6 literals); `None` for
/// anything that is not a host name.
fn split(host: &str) -> Option<(&str, Option<&str>)> {
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let rest = &host[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&host[..=end], port)
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    let allowed =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':');
    (!name.is_empty() && name.bytes().all(allowed)).then_some((name, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with_host(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HOST, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(version: Version, uri: &str, hosts: &[&str]) -> u16 {
        match check(version, &uri.parse().unwrap(), &with_host(hosts), None) {
            Ok(()) => 200,
            Err(e) => e.status,
        }
    }

    #[test]
    fn loopback_names_pass_with_or_without_a_port() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:1",
            "localhost",
            "LOCALHOST:65535",
        ] {
            assert_eq!(status(Version::HTTP_11, "/", &[host]), 200, "{host}");
        }
    }

    #[test]
    fn other_names_are_misdirected_and_malformed_ones_invalid() {
        for host in [
            "evil.example",
            "127.0.0.2",
            "[::2]:1",
            "localhost.evil",
            "0.0.0.0",
        ] {
            assert_eq!(status(Version::HTTP_11, "/", &[host]), 421, "{host}");
        }
        for host in [
            "",
            "a b",
            "localhost:",
            "localhost:x",
            "[::1",
            "[::1]x",
            "localhost:123456",
        ] {
            assert_eq!(status(Version::HTTP_11, "/", &[host]), 400, "{host:?}");
        }
        assert_eq!(
            status(Version::HTTP_11, "/", &["localhost", "localhost"]),
            400
        );
        assert_eq!(status(Version::HTTP_11, "/", &[]), 400);
        assert_eq!(
            status(Version::HTTP_10, "/", &[]),
            200,
            "HTTP/1.0 may omit Host"
        );
    }

    #[test]
    fn the_configured_name_passes_too_and_nothing_else() {
        let with = |host: &str, also: &str| {
            check(
                Version::HTTP_11,
                &"/".parse().unwrap(),
                &with_host(&[host]),
                Some(also),
            )
            .map_err(|e| e.status)
        };
        assert_eq!(with("devbox.lan:10700", "devbox.lan"), Ok(()));
        assert_eq!(with("DEVBOX.LAN", "devbox.lan"), Ok(()));
        assert_eq!(with("192.168.1.5:10700", "192.168.1.5"), Ok(()));
        assert_eq!(with("[fd00::5]:1", "fd00::5"), Ok(()));
        assert_eq!(with("localhost", "devbox.lan"), Ok(()));
        assert_eq!(with("evil.example", "devbox.lan"), Err(421));
        assert_eq!(with("devbox.lan.evil.example", "devbox.lan"), Err(421));
    }

    #[test]
    fn hosts_to_listen_on_are_addresses_or_names() {
        for good in [
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "[::1]",
            "fd00::5",
            "localhost",
            "devbox.lan",
            "devbox.lan.",
            "my_service",
            "a-b.example",
        ] {
            assert!(is_address_or_name(good), "{good}");
        }
        let long = format!("{}.example", "a".repeat(64));
        for bad in [
            "",
            "a b",
            "-bad",
            "bad-",
            "bad..name",
            "a/b",
            "[::1",
            "x:y:z",
            "[127.0.0.1]",
            ".",
            "a\u{0}b",
            &long,
        ] {
            assert!(!is_address_or_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_request_target_authority_is_checked_too() {
        assert_eq!(
            status(Version::HTTP_11, "http://evil.example/x", &["localhost"]),
            421
        );
        assert_eq!(status(Version::HTTP_2, "http://localhost:1/x", &[]), 200);
        assert_eq!(status(Version::HTTP_2, "http://evil.example/x", &[]), 421);
    }
}
