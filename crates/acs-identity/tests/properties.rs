//! Property tests for every parser and the signer, 10,000 cases each.

use std::time::{Duration, SystemTime};

use acs_identity::{AccessKey, CommunicationIdentifier, ConnectionString, RefreshedToken};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..80)
}

fn host() -> impl Strategy<Value = String> {
    // Plain ASCII labels (a hyphen could make an invalid `xn--` label).
    "[a-z][a-z0-9]{0,20}(\\.[a-z][a-z0-9]{0,10}){0,3}"
}

fn mixed_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Any valid connection string, in any key order and case, with spaces
    /// and a trailing `;`, parses to its endpoint and key.
    #[test]
    fn connection_strings_round_trip(
        host in host(),
        port in prop::option::of(1u16..),
        https in any::<bool>(),
        key in key_bytes(),
        key_first in any::<bool>(),
        case_mask in any::<u64>(),
        pad in "[ \t]{0,2}",
        trailing in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let endpoint = match port { Some(p) => format!("{scheme}://{host}:{p}/"), None => format!("{scheme}://{host}/") };
        let key_text = STANDARD.encode(&key);
        let e = format!("{pad}{}={pad}{endpoint}{pad}", mixed_case("endpoint", case_mask));
        let k = format!("{pad}{}={key_text}{pad}", mixed_case("accesskey", case_mask >> 9));
        let mut s = if key_first { format!("{k};{e}") } else { format!("{e};{k}") };
        if trailing { s.push(';'); }
        let cs = ConnectionString::parse(&s).unwrap();
        let parsed = cs.endpoint().clone();
        prop_assert_eq!(parsed.scheme(), scheme);
        prop_assert_eq!(parsed.host_str(), Some(host.as_str()));
        prop_assert_eq!(cs.access_key().expose_secret(), key_text.as_str());
        let debug = format!("{:?}", cs);
        prop_assert!(!debug.contains(&key_text));
    }

    /// Arbitrary input never panics, and an error never shows the key.
    #[test]
    fn connection_string_errors_never_show_the_key(input in ".{0,120}", key in key_bytes()) {
        let _ = ConnectionString::parse(&input);
        let key_text = format!("{}*", STANDARD.encode(&key));
        for s in [
            format!("endpoint=https://x.example;accesskey={key_text}"),
            format!("endpoint={input};accesskey={key_text}"),
            format!("endpoint=https://x.example;{key_text}"),
            format!("{key_text}={key_text}"),
        ] {
            if let Err(e) = ConnectionString::parse(&s) {
                let text = format!("{e} {e:?}");
                let visible = &key_text[..key_text.len().min(12)];
                prop_assert!(key_text.len() < 12 || !text.contains(visible), "{}", text);
            }
        }
    }

    /// Every string is a raw id of some kind, and gives itself back.
    #[test]
    fn any_raw_id_round_trips(raw in "\\PC{0,60}") {
        let id = CommunicationIdentifier::from_raw_id(&raw);
        prop_assert_eq!(id.raw_id(), raw.clone());
        prop_assert_eq!(id.to_string(), raw);
    }

    /// Generated ids of each kind parse as that kind and round-trip.
    #[test]
    fn generated_raw_ids_parse_as_their_kind(
        kind in 0usize..6,
        a in "[0-9a-f-]{1,36}",
        b in "[0-9a-f-]{1,36}",
        c in "[0-9a-f-]{1,36}",
        cloud in 0usize..3,
        phone in "\\+?[0-9]{3,15}",
    ) {
        let cloud_prefix = ["", "dod", "gcch"][cloud];
        let (raw, expect) = match kind {
            0 => (format!("8:acs:{a}_{b}"), "user"),
            1 => (format!("4:{phone}"), "phone"),
            2 => (format!("8:{}:{a}", if cloud == 0 { "orgid" } else { cloud_prefix }), "teams-user"),
            3 => (format!("8:teamsvisitor:{a}"), "teams-user"),
            4 => (format!("28:{}:{a}", if cloud == 0 { "orgid" } else { cloud_prefix }), "teams-app"),
            _ => (format!("8:{}acs:{a}_{b}_{c}", if cloud == 0 { String::new() } else { format!("{cloud_prefix}-") }), "teams-extension"),
        };
        let id = CommunicationIdentifier::from_raw_id(&raw);
        let got = match &id {
            CommunicationIdentifier::CommunicationUser(_) => "user",
            CommunicationIdentifier::PhoneNumber(_) => "phone",
            CommunicationIdentifier::MicrosoftTeamsUser(_) => "teams-user",
            CommunicationIdentifier::MicrosoftTeamsApp(_) => "teams-app",
            CommunicationIdentifier::TeamsExtensionUser(_) => "teams-extension",
            _ => "unknown",
        };
        prop_assert_eq!(got, expect, "{}", raw);
        prop_assert_eq!(id.raw_id(), raw);
    }

    /// A JWT's `exp` is read exactly; anything else is an error, not a panic.
    #[test]
    fn jwt_expiry_is_decoded(exp in 0i64..4_102_444_800, extra in "[a-z]{0,12}") {
        let future = exp.max(now_secs() + 60);
        let payload = serde_json::json!({"exp": future, "extra": extra}).to_string();
        let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("{\"alg\":\"HS256\"}"), URL_SAFE_NO_PAD.encode(payload), "c2ln");
        let access = token.clone().into_access_token().unwrap();
        prop_assert_eq!(access.expires_on().timestamp(), future);
        prop_assert_eq!(access.token(), token.as_str());
    }

    #[test]
    fn arbitrary_tokens_never_panic(token in "\\PC{0,80}", parts in prop::collection::vec("[A-Za-z0-9_=-]{0,20}", 0..5)) {
        let _ = token.into_access_token();
        let _ = parts.join(".").into_access_token();
    }

    /// The crate's signer agrees with an independent implementation of the
    /// scheme for any method, path, query, body, key, date and port.
    #[test]
    fn signer_matches_an_independent_implementation(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]),
        host in host(),
        port in prop::option::of(1u16..),
        path in "(/[A-Za-z0-9:._~%-]{1,12}){1,4}",
        query in prop::option::of("[a-z-]{1,10}=[A-Za-z0-9.-]{0,12}(&[a-z]{1,5}=[0-9]{1,3}){0,2}"),
        body in prop::collection::vec(any::<u8>(), 0..200),
        key in key_bytes(),
        secs in 0u64..4_102_444_800,
    ) {
        let authority = match port { Some(p) => format!("{host}:{p}"), None => host.clone() };
        let url_text = match &query { Some(q) => format!("https://{authority}{path}?{q}"), None => format!("https://{authority}{path}") };
        let url: url::Url = url_text.parse().unwrap();
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let key_text = STANDARD.encode(&key);
        let ours = acs_identity::hmac::sign(method, &url, &body, date, &AccessKey::new(&key_text).unwrap());

        // Independent: from the scheme's text, not the crate's code.
        let hash = STANDARD.encode(Sha256::digest(&body));
        let date_text = httpdate::fmt_http_date(date);
        let signed_host = match url.port() { Some(p) => format!("{host}:{p}"), None => host.clone() };
        let target = match url.query() { Some(q) => format!("{}?{q}", url.path()), None => url.path().to_string() };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{method}\n{target}\n{date_text};{signed_host};{hash}").as_bytes());
        let expected = format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={}",
            STANDARD.encode(mac.finalize().into_bytes())
        );
        prop_assert_eq!(ours.content_hash, hash);
        prop_assert_eq!(ours.date, date_text);
        prop_assert_eq!(ours.authorization, expected);
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
