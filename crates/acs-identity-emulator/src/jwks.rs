//! RS256 keys from a JWKS document (`--jwks FILE`,
//! [`crate::EmulatorBuilder::jwks`]): management bearer tokens signed by
//! your own test issuer are accepted too.
//!
//! Only RSA keys (`"kty": "RSA"`) are read, each with `n` and `e` in
//! base64url; a key whose `use` is not `sig` or whose `alg` is not `RS256`
//! is skipped. A token's `kid`, when present, picks the key; without one
//! every key is tried. Signatures are checked with aws-lc-rs (PKCS #1 v1.5,
//! SHA-256, 2048 to 8192 bits).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A JWKS document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JWKS: {0}")]
pub struct JwksError(String);

#[derive(Debug, Clone)]
struct RsaKey {
    kid: Option<String>,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// The RS256 verification keys of a JWKS document.
#[derive(Debug, Clone)]
pub struct Jwks {
    keys: Vec<RsaKey>,
}

fn component(key: &Value, name: &str) -> Result<Vec<u8>, JwksError> {
    let text = key
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwksError(format!("an RSA key has no `{name}`")))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| JwksError(format!("`{name}` of an RSA key is not base64url")))?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    if start == bytes.len() {
        return Err(JwksError(format!("`{name}` of an RSA key is zero")));
    }
    Ok(bytes[start..].to_vec())
}

impl Jwks {
    /// Reads `{"keys": [...]}`.
    ///
    /// # Errors
    ///
    /// [`JwksError`] when the text is not a JWKS document or holds no usable
    /// RS256 key.
    pub fn parse(text: &str) -> Result<Self, JwksError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| JwksError(format!("not JSON: {e}")))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError("no `keys` array".into()))?;
        let mut keys = Vec::new();
        for key in list {
            let field = |name: &str| key.get(name).and_then(Value::as_str);
            if field("kty") != Some("RSA")
                || field("use").is_some_and(|u| u != "sig")
                || field("alg").is_some_and(|a| a != "RS256")
            {
                continue;
            }
            keys.push(RsaKey {
                kid: field("kid").map(str::to_string),
                n: component(key, "n")?,
                e: component(key, "e")?,
            });
        }
        if keys.is_empty() {
            return Err(JwksError("no RSA signing key (kty RSA, RS256)".into()));
        }
        Ok(Self { keys })
    }

    /// Whether `signature` over `signing_input` verifies with the key named
    /// `kid` (or, without a kid, with any key).
    pub fn verify(&self, kid: Option<&str>, signing_input: &[u8], signature: &[u8]) -> bool {
        self.keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .any(|k| {
                RsaPublicKeyComponents {
                    n: k.n.as_slice(),
                    e: k.e.as_slice(),
                }
                .verify(&RSA_PKCS1_2048_8192_SHA256, signing_input, signature)
                .is_ok()
            })
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! An RSA test issuer: a generated key, its JWKS, and RS256 tokens.

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    /// The two INTEGERs of a DER `RSAPublicKey` (n, e).
    fn der_integers(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        fn read(der: &[u8], at: &mut usize) -> (u8, Vec<u8>) {
            let tag = der[*at];
            let mut len = usize::from(der[*at + 1]);
            *at += 2;
            if len & 0x80 != 0 {
                let bytes = len & 0x7f;
                len = der[*at..*at + bytes]
                    .iter()
                    .fold(0, |l, b| (l << 8) | usize::from(*b));
                *at += bytes;
            }
            let value = der[*at..*at + len].to_vec();
            *at += len;
            (tag, value)
        }
        let mut at = 0;
        let (_, seq) = read(der, &mut at);
        let mut at = 0;
        let (_, n) = read(&seq, &mut at);
        let (_, e) = read(&seq, &mut at);
        let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
        (strip(n), strip(e))
    }

    pub struct Issuer {
        key: KeyPair,
        pub kid: String,
    }

    impl Issuer {
        pub fn new(kid: &str) -> Self {
            Self {
                key: KeyPair::generate(KeySize::Rsa2048).expect("an RSA key"),
                kid: kid.into(),
            }
        }

        pub fn jwks(&self) -> String {
            let (n, e) = der_integers(self.key.public_key().as_ref());
            json!({"keys": [{
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
            }]})
            .to_string()
        }

        pub fn token(&self, header: Value, claims: Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let mut sig = vec![0; self.key.public_modulus_len()];
            self.key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("signed");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::Issuer;
    use super::*;
    use serde_json::json;

    #[test]
    fn rs256_signatures_verify_with_the_named_key_only() {
        let issuer = Issuer::new("k1");
        let jwks = Jwks::parse(&issuer.jwks()).unwrap();
        let token = issuer.token(json!({"alg": "RS256", "kid": "k1"}), json!({"a": 1}));
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(jwks.verify(Some("k1"), input.as_bytes(), &sig));
        assert!(jwks.verify(None, input.as_bytes(), &sig));
        assert!(!jwks.verify(Some("k2"), input.as_bytes(), &sig));
        assert!(!jwks.verify(Some("k1"), b"tampered", &sig));
        let other = Jwks::parse(&Issuer::new("k1").jwks()).unwrap();
        assert!(!other.verify(Some("k1"), input.as_bytes(), &sig));
    }

    #[test]
    fn documents_without_a_usable_key_are_refused() {
        for bad in [
            "",
            "{}",
            r#"{"keys": []}"#,
            r#"{"keys": [{"kty": "EC", "crv": "P-256"}]}"#,
            r#"{"keys": [{"kty": "RSA", "e": "AQAB"}]}"#,
            r#"{"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}"#,
            r#"{"keys": [{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}]}"#,
        ] {
            assert!(Jwks::parse(bad).is_err(), "{bad}");
        }
    }
}
