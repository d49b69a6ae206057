//! Minimal JWTs: HS256 tokens the emulator issues, and reading the claims of
//! tokens others issued (Teams and Entra ID tokens are checked by their
//! claims only; the emulator cannot verify Microsoft's signatures).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// Signs `claims` as an HS256 JWT with `secret`.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The claims of an HS256 token signed with `secret`, or `None` when the
/// token is malformed or the signature does not match.
pub fn verify(token: &str, secret: &[u8]) -> Option<Map<String, Value>> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    m.update(signing_input.as_bytes());
    m.verify_slice(&signature).ok()?;
    claims(token)
}

/// The claims of any JWT, without checking its signature.
pub fn claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let token = sign(&json!({"sub": "8:acs:x", "exp": 1}), b"secret");
        assert_eq!(verify(&token, b"secret").unwrap()["sub"], "8:acs:x");
        assert!(verify(&token, b"other").is_none());
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.AAAA");
        assert!(verify(&forged, b"secret").is_none());
        assert!(claims("not-a-jwt").is_none());
        assert!(claims("a.b").is_none());
    }
}
