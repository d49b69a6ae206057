//! The access tokens the emulator issues (JWTs signed with the store's
//! secret, `exp` equal to the answer's `expiresOn`), the check of a token
//! it issued, and the reading of a user's token in the exchanges.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::inspect::Refusal;
use crate::jwt;
use crate::state::Shared;
use crate::store::Invalid;

/// A time as the service writes it: RFC 3339 with seven fractional digits
/// and `+00:00` (`2023-10-19T15:34:16.4461396+00:00`).
pub fn timestamp(t: DateTime<Utc>) -> String {
    // chrono has no seven-digit fraction: tenths of microseconds by hand
    // (a leap second's fraction is capped, so it stays seven digits).
    let ticks = (t.timestamp_subsec_nanos() / 100).min(9_999_999);
    format!("{}.{ticks:07}+00:00", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Signs a token for `subject` and answers `{token, expiresOn}`. `extra`
/// claims say what kind of token it is. The token's `exp` is `expires` in
/// whole seconds (rounded down), so a client reading either agrees.
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

/// The service's refusal of a user's token, explained by `check` in the
/// request log.
pub fn invalid_user_token(check: impl Into<String>) -> ApiError {
    invalid_token().with_refusal(Refusal::check(check))
}

/// The claims of a user's (Teams or Entra) token. These tokens are read,
/// not verified (see the crate README).
pub fn read_user_token(token: &str) -> Result<Map<String, Value>, ApiError> {
    jwt::claims(token).ok_or_else(|| invalid_user_token("the user's token is not a JWT"))
}

/// The expiry of a user's token, when it is in the future.
pub fn unexpired(
    claims: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
        .ok_or_else(|| invalid_user_token("the user's token has no exp"))?;
    if expires <= now {
        return Err(invalid_user_token("the user's token has expired"));
    }
    Ok(expires)
}

/// The claims of a user's unexpired token, with its expiry.
pub fn user_claims(
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Map<String, Value>, DateTime<Utc>), ApiError> {
    let claims = read_user_token(token)?;
    let expires = unexpired(&claims, now)?;
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
        .ok_or_else(|| invalid_user_token(format!("the user's token has no {name} claim")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_with_seven_digits() {
        let t = DateTime::from_timestamp(1_697_729_656, 446_139_687).unwrap();
        assert_eq!(timestamp(t), "2023-10-19T15:34:16.4461396+00:00");
        let whole = DateTime::from_timestamp(1_697_729_656, 0).unwrap();
        assert_eq!(timestamp(whole), "2023-10-19T15:34:16.0000000+00:00");
        // A leap second is written as :60, its fraction still seven digits.
        let leap = DateTime::from_timestamp(1_697_729_699, 1_500_000_000).unwrap();
        assert_eq!(timestamp(leap), "2023-10-19T15:34:60.9999999+00:00");
    }
}
