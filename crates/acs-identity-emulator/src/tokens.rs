//! The access tokens the emulator issues (JWTs signed with the store's
//! secret, `exp` equal to the answer's `expiresOn`), the check of a token
//! it issued, and the reading of a user's token in the exchanges.

use std::sync::atomic::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::jwt;
use crate::state::Shared;
use crate::store::Invalid;

/// A time as the service writes it: RFC 3339, whole seconds, `+00:00`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `t` without its fraction of a second.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Signs a token for `subject` and answers `{token, expiresOn}`. `extra`
/// claims say what kind of token it is.
pub fn issue(
    shared: &Shared,
    now: DateTime<Utc>,
    subject: &str,
    scopes: &[String],
    expires: DateTime<Utc>,
    extra: Value,
) -> Value {
    let mut claims = json!({
        "iss": "acs-identity-emulator",
        "sub": subject,
        "resourceId": shared.store.resource_id,
        "scopes": scopes,
        "acsScope": scopes.join(","),
        "iat": now.timestamp(),
        "exp": expires.timestamp(),
        "jti": crate::store::random_guid(),
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    shared.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
    json!({ "token": jwt::sign(&claims, &shared.store.signing_secret), "expiresOn": timestamp(expires) })
}

/// Whether a token the emulator issued is valid now, with its subject,
/// scopes and expiry.
pub fn validate(shared: &Shared, token: &str) -> Value {
    let Some(claims) = jwt::verify(token, &shared.store.signing_secret) else {
        return json!({ "valid": false, "reason": "malformed" });
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let mut answer = json!({
        "userId": subject,
        "scopes": claims.get("scopes").cloned().unwrap_or(Value::Null),
        "expiresOn": DateTime::from_timestamp(exp, 0).map(timestamp),
    });
    let reason = if exp <= Utc::now().timestamp() {
        Some("expired")
    } else if claims.get("kind").and_then(Value::as_str) == Some("acs") {
        let generation = claims.get("gen").and_then(Value::as_u64).unwrap_or(0);
        match shared.store.token_state(&subject, generation) {
            Ok(()) => None,
            Err(Invalid::Revoked) => Some("revoked"),
            Err(Invalid::UserDeleted) => Some("userDeleted"),
        }
    } else {
        None
    };
    answer["valid"] = json!(reason.is_none());
    if let Some(r) = reason {
        answer["reason"] = json!(r);
    }
    answer
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("InvalidAccessToken", "Provided access token is not valid.")
}

/// The claims of a user's unexpired (Teams or Entra) token, with its
/// expiry. These tokens are read, not verified (see the crate README).
pub fn user_claims(
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Map<String, Value>, DateTime<Utc>), ApiError> {
    let claims = jwt::claims(token).ok_or_else(invalid_token)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(invalid_token)?;
    let expires = DateTime::from_timestamp(exp, 0).ok_or_else(invalid_token)?;
    if expires <= now {
        return Err(invalid_token());
    }
    Ok((claims, expires))
}

/// The first of `names` that the claims hold as a string.
pub fn claim<'a>(claims: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| claims.get(*n).and_then(Value::as_str))
}

/// [`claim`], required: an invalid token without it.
pub fn required_claim(claims: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    claim(claims, &[name])
        .map(str::to_string)
        .ok_or_else(invalid_token)
}
