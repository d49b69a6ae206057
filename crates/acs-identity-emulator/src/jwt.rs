//! Minimal JWTs: HS256 tokens the emulator issues, and reading the claims of
//! tokens others issued (Teams and Entra ID tokens are checked by their
//! claims only; the emulator cannot verify Microsoft's signatures).

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The encoded header of every token the emulator signs.
static HEADER: LazyLock<String> =
    LazyLock::new(|| URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()));

/// Signs `claims` as an HS256 JWT with `secret`.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    let payload = serde_json::to_vec(claims).expect("a JSON value serializes");
    // header.payload.signature, written into one buffer.
    let mut token = String::with_capacity(HEADER.len() + payload.len() * 4 / 3 + 50);
    token.push_str(&HEADER);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = mac(secret, token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
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

fn mac(secret: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_header_payload_signature() {
        let claims = json!({"sub": "8:acs:x", "scopes": ["chat"], "exp": 1});
        let token = sign(&claims, b"secret");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
            claims.to_string().into_bytes()
        );
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            mac(b"secret", signing_input.as_bytes())
        );
    }

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
