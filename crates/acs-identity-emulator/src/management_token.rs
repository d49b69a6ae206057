//! Bearer tokens for the management operations (create, issue, revoke,
//! delete, assignments): Entra-like JWTs the emulator verifies.
//!
//! A token is accepted when
//! - its header's `alg` is `HS256` and its signature verifies with this
//!   emulator's Entra signing secret (random per start, never shown; tokens
//!   come from [`crate::Emulator::entra_token`], or `POST
//!   /_emulator/entra-token`), or its `alg` is `RS256` and it verifies with
//!   a key of the JWKS the emulator was given (`--jwks`); `alg: none` and
//!   every other algorithm are refused;
//! - its `aud` (a string, or an array holding one) is exactly
//!   `https://communication.azure.com` or `https://communication.azure.com/`,
//!   the audiences of tokens issued for the scope
//!   `https://communication.azure.com//.default`;
//! - `exp` is present and in the future, and `nbf`, when present, is not.
//!
//! The token exchanges (Teams Phone extension, Entra) carry the *user's*
//! token; those are read by their claims only (see the crate README).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
#[cfg(feature = "jwks")]
use crate::jwks::Jwks;
use crate::jwt;

/// The audiences a management bearer token may carry (compared exactly).
///
/// # Examples
///
/// ```
/// use acs_identity_emulator::MANAGEMENT_AUDIENCES;
///
/// assert!(MANAGEMENT_AUDIENCES.contains(&"https://communication.azure.com"));
/// assert!(!MANAGEMENT_AUDIENCES.contains(&"https://communication.azure.com//.default"));
/// ```
pub const AUDIENCES: &[&str] = &[
    "https://communication.azure.com",
    "https://communication.azure.com/",
];

/// How long a minted token lives unless its claims say otherwise.
pub const DEFAULT_LIFETIME_SECS: i64 = 3600;

/// The keys management tokens are signed and verified with.
pub struct EntraKeys {
    secret: [u8; 32],
    /// RS256 keys of another issuer, trusted too.
    #[cfg(feature = "jwks")]
    jwks: Option<Jwks>,
}

impl fmt::Debug for EntraKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EntraKeys(***)")
    }
}

fn refused(message: &str) -> ApiError {
    ApiError::unauthorized("InvalidAccessToken", message.to_string())
}

impl EntraKeys {
    /// A fresh random secret.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        fastrand::fill(&mut secret);
        Self {
            secret,
            #[cfg(feature = "jwks")]
            jwks: None,
        }
    }

    /// Also trusts the RS256 keys of `jwks`.
    #[cfg(feature = "jwks")]
    pub fn with_jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// The default claims (`aud`, `iss`, `tid`, `oid`, `iat`, `nbf`, `exp`
    /// an hour on) overlaid with `claims`; a claim set to `null` is left out.
    pub fn claims(claims: Value, now: i64) -> Map<String, Value> {
        let mut all = match json!({
            "aud": AUDIENCES[0],
            "iss": "https://login.microsoftonline.com/acs-identity-emulator/v2.0",
            "tid": "00000000-0000-0000-0000-000000000000",
            "oid": "00000000-0000-0000-0000-000000000001",
            "iat": now,
            "nbf": now,
            "exp": now + DEFAULT_LIFETIME_SECS,
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Value::Object(given) = claims {
            for (k, v) in given {
                if v.is_null() {
                    all.remove(&k);
                } else {
                    all.insert(k, v);
                }
            }
        }
        all
    }

    /// Signs the claims (defaults filled in by [`EntraKeys::claims`]).
    pub fn mint(&self, claims: Value, now: i64) -> String {
        jwt::sign(&Value::Object(Self::claims(claims, now)), &self.secret)
    }

    /// Verifies a management bearer token at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<(), ApiError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("The bearer token is not a JWT."));
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| refused("The bearer token's header is not JSON."))?;
        if signature.is_empty() {
            return Err(refused("The bearer token has no signature."));
        }
        let signature_refused = || refused("The bearer token's signature was refused.");
        let claims = match header.get("alg").and_then(Value::as_str) {
            Some("HS256") => jwt::verify(token, &self.secret).ok_or_else(signature_refused)?,
            #[cfg(feature = "jwks")]
            Some("RS256") if self.jwks.is_some() => {
                let (input, sig) = token.rsplit_once('.').ok_or_else(signature_refused)?;
                let sig = URL_SAFE_NO_PAD
                    .decode(sig)
                    .map_err(|_| signature_refused())?;
                let kid = header.get("kid").and_then(Value::as_str);
                let keys = self.jwks.as_ref().ok_or_else(signature_refused)?;
                if !keys.verify(kid, input.as_bytes(), &sig) {
                    return Err(signature_refused());
                }
                jwt::claims(token).ok_or_else(signature_refused)?
            }
            _ => {
                return Err(refused(
                    "The bearer token must be signed with HS256 by the emulator (or RS256 by a key of --jwks); alg none and other algorithms are refused.",
                ));
            }
        };
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => AUDIENCES.contains(&a.as_str()),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| AUDIENCES.contains(&a)),
            _ => false,
        };
        if !audience_ok {
            return Err(refused(
                "The bearer token's audience must be https://communication.azure.com.",
            ));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| refused("The bearer token has no exp claim."))?;
        if exp <= now {
            return Err(refused("The bearer token has expired."));
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now)
        {
            return Err(refused("The bearer token is not valid yet (nbf)."));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn unsigned(header: &str, claims: Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn minted_tokens_verify_with_their_own_key_only() {
        let keys = EntraKeys::random();
        let token = keys.mint(json!({}), NOW);
        assert_eq!(keys.verify(&token, NOW), Ok(()));
        assert!(EntraKeys::random().verify(&token, NOW).is_err());
        assert!(
            keys.verify(&token, NOW + DEFAULT_LIFETIME_SECS).is_err(),
            "expired"
        );
        assert!(keys.verify(&token, NOW - 1).is_err(), "before nbf");
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let keys = EntraKeys::random();
        let claims = json!({"aud": AUDIENCES[0], "exp": NOW + 60});
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"RS256"}"#,
            "{}",
            "x",
        ] {
            let err = keys
                .verify(&unsigned(header, claims.clone()), NOW)
                .unwrap_err();
            assert_eq!(
                (err.status, err.code),
                (401, "InvalidAccessToken"),
                "{header}"
            );
        }
    }

    #[test]
    fn audiences_are_compared_exactly() {
        let keys = EntraKeys::random();
        for (aud, ok) in [
            (json!("https://communication.azure.com"), true),
            (json!("https://communication.azure.com/"), true),
            (json!(["x", "https://communication.azure.com/"]), true),
            (json!("https://communication.azure.com//.default"), false),
            (
                json!("https://evil-communication.azure.com.attacker.example"),
                false,
            ),
            (json!("HTTPS://COMMUNICATION.AZURE.COM"), false),
            (json!(null), false),
            (json!(7), false),
        ] {
            let token = keys.mint(json!({ "aud": aud }), NOW);
            assert_eq!(keys.verify(&token, NOW).is_ok(), ok, "{aud}");
        }
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn rs256_tokens_verify_with_a_jwks_key_only_when_one_is_given() {
        use crate::jwks::test_keys::Issuer;
        let issuer = Issuer::new("k1");
        let claims = json!({"aud": AUDIENCES[0], "exp": NOW + 60});
        let token = issuer.token(json!({"alg": "RS256", "kid": "k1"}), claims.clone());
        assert!(
            EntraKeys::random().verify(&token, NOW).is_err(),
            "no JWKS: refused"
        );
        let keys = EntraKeys::random().with_jwks(Jwks::parse(&issuer.jwks()).unwrap());
        assert_eq!(keys.verify(&token, NOW), Ok(()));
        assert!(keys.verify(&token, NOW + 60).is_err(), "expired");
        let stranger =
            Issuer::new("k1").token(json!({"alg": "RS256", "kid": "k1"}), claims.clone());
        assert!(
            keys.verify(&stranger, NOW).is_err(),
            "another key with the same kid"
        );
        let evil = issuer.token(
            json!({"alg": "RS256", "kid": "k1"}),
            json!({"aud": "https://evil.example", "exp": NOW + 60}),
        );
        assert!(keys.verify(&evil, NOW).is_err(), "audience still checked");
        // HS256 tokens of the emulator keep working.
        assert_eq!(keys.verify(&keys.mint(json!({}), NOW), NOW), Ok(()));
    }

    #[test]
    fn the_secret_is_not_in_debug() {
        let keys = EntraKeys::random();
        assert_eq!(format!("{keys:?}"), "EntraKeys(***)");
    }
}
