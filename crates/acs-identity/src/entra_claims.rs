//! Reading the claims of a JWT without verifying it: the `exp` of an ACS
//! token, and what the Teams exchange checks in a Teams user's Entra token.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::credential::InvalidToken;

/// base64url, with or without `=` padding.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The payload of a JWT as a JSON object; the header must be one too. The
/// signature is not checked: only the service can do that.
pub(crate) fn payload(token: &str) -> Result<Map<String, Value>, InvalidToken> {
    let trimmed = token.trim();
    if trimmed.is_empty() {
        return Err(InvalidToken::Empty);
    }
    if trimmed.starts_with('{') || trimmed.starts_with('"') {
        return Err(InvalidToken::LooksLikeJson);
    }
    // Split as given: white space around a token is not part of a JWT.
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = parts[..] else {
        return Err(InvalidToken::NotAJwt { parts: parts.len() });
    };
    json_part(header, "header")?;
    json_part(payload, "payload")
}

fn json_part(part: &str, name: &'static str) -> Result<Map<String, Value>, InvalidToken> {
    let bytes = JWT_BASE64
        .decode(part)
        .map_err(|_| InvalidToken::Base64 { part: name })?;
    serde_json::from_slice(&bytes).map_err(|_| InvalidToken::NotJson { part: name })
}

/// The `exp` claim: seconds since 1970, as an integer or a float.
pub(crate) fn expiry(claims: &Map<String, Value>) -> Result<DateTime<Utc>, InvalidToken> {
    let Value::Number(exp) = claims.get("exp").ok_or(InvalidToken::MissingExp)? else {
        return Err(InvalidToken::InvalidExp);
    };
    let seconds = match (exp.as_i64(), exp.as_f64()) {
        (Some(seconds), _) => seconds,
        (None, Some(seconds)) if seconds.is_finite() => seconds.floor() as i64,
        _ => return Err(InvalidToken::InvalidExp),
    };
    DateTime::from_timestamp(seconds, 0).ok_or(InvalidToken::InvalidExp)
}

/// What the Teams user token exchange checks in a Teams user's Entra ID
/// access token, read without verifying it, so that a wrong argument is
/// caught before the call.
///
/// The exchange needs the token's `appid` (the Entra application, as
/// `client_id`) and `oid` (the user's object id, as `user_object_id`), and
/// the token must carry the delegated scopes
/// `https://auth.msft.communication.azure.com/Teams.ManageCalls` and
/// `Teams.ManageChats`. The most common mistake is passing the tenant id
/// (`tid`) as the user's object id.
///
/// # Examples
///
/// ```
/// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// # let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "appid": "app-id",
/// #     "oid": "user-oid", "tid": "tenant-id", "scp": "Teams.ManageCalls Teams.ManageChats", "exp": 1900000000});
/// # let teams_token = format!("{}.{}.sig", B64.encode(r#"{"alg":"RS256"}"#), B64.encode(claims.to_string()));
/// use acs_identity::{EntraTokenClaims, GetTokenForTeamsUserOptions};
///
/// // `teams_token`: what MSAL returned for the Teams user.
/// let claims = EntraTokenClaims::decode(&teams_token)?;
/// assert_eq!(claims.tenant_id.as_deref(), Some("tenant-id"));
/// assert!(claims.has_teams_scopes());
/// let options = GetTokenForTeamsUserOptions::new(
///     &teams_token,
///     claims.app_id.as_deref().unwrap_or_default(),
///     claims.object_id.as_deref().unwrap_or_default(),
/// );
/// assert_eq!(options.user_object_id, "user-oid");
/// # Ok::<(), acs_identity::InvalidToken>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntraTokenClaims {
    /// `appid` (v1 tokens) or `azp` (v2 tokens): the Entra application the
    /// token was issued to.
    pub app_id: Option<String>,
    /// `oid`: the user's object id.
    pub object_id: Option<String>,
    /// `tid`: the user's tenant.
    pub tenant_id: Option<String>,
    /// `aud`: the resource the token is for.
    pub audience: Option<String>,
    /// `scp`: the delegated scopes, split on spaces.
    pub scopes: Vec<String>,
    /// `exp`, when present and readable.
    pub expires_on: Option<DateTime<Utc>>,
}

/// The delegated scopes the Teams user exchange requires.
pub const TEAMS_SCOPES: [&str; 2] = [
    "https://auth.msft.communication.azure.com/Teams.ManageCalls",
    "https://auth.msft.communication.azure.com/Teams.ManageChats",
];

impl EntraTokenClaims {
    /// Reads the claims of `token` (a JWT), without verifying it.
    ///
    /// # Errors
    ///
    /// [`InvalidToken`] when `token` is not a JWT whose header and payload
    /// are JSON objects.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{EntraTokenClaims, InvalidToken};
    ///
    /// assert_eq!(EntraTokenClaims::decode("not a token"), Err(InvalidToken::NotAJwt { parts: 1 }));
    /// assert_eq!(EntraTokenClaims::decode(r#"{"token":"eyJ..."}"#), Err(InvalidToken::LooksLikeJson));
    /// ```
    pub fn decode(token: &str) -> Result<Self, InvalidToken> {
        let claims = payload(token)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            app_id: text("appid").or_else(|| text("azp")),
            object_id: text("oid"),
            tenant_id: text("tid"),
            audience: text("aud"),
            scopes: text("scp")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            expires_on: expiry(&claims).ok(),
        })
    }

    /// Whether `scp` holds both Teams scopes (`Teams.ManageCalls` and
    /// `Teams.ManageChats`), written in full or, as Entra writes them in a
    /// token for that audience, without the resource prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let token = |scp: &str| format!("{}.{}.s", B64.encode("{}"), B64.encode(serde_json::json!({"scp": scp}).to_string()));
    /// use acs_identity::EntraTokenClaims;
    ///
    /// assert!(EntraTokenClaims::decode(&token("Teams.ManageCalls Teams.ManageChats"))?.has_teams_scopes());
    /// assert!(!EntraTokenClaims::decode(&token("User.Read"))?.has_teams_scopes());
    /// # Ok::<(), acs_identity::InvalidToken>(())
    /// ```
    pub fn has_teams_scopes(&self) -> bool {
        TEAMS_SCOPES.iter().all(|full| {
            let short = full.rsplit('/').next().unwrap_or(full);
            self.scopes.iter().any(|s| s == full || s == short)
        })
    }

    /// Why `client_id` and `user_object_id` cannot be right for this token,
    /// for the mistake the service would answer with a bare 401: the
    /// tenant id given as the user's object id.
    pub(crate) fn mistake(&self, user_object_id: &str) -> Option<String> {
        let oid = self.object_id.as_deref()?;
        (user_object_id != oid && self.tenant_id.as_deref() == Some(user_object_id)).then(|| {
            format!(
                "{user_object_id} is the token's tenant id (`tid`); pass the user's object id, the token's `oid` claim ({oid})"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn v1_and_v2_tokens_give_the_application_id() {
        let v1 = EntraTokenClaims::decode(&jwt(
            serde_json::json!({"appid": "a1", "oid": "o", "tid": "t"}),
        ))
        .unwrap();
        assert_eq!(v1.app_id.as_deref(), Some("a1"));
        let v2 = EntraTokenClaims::decode(&jwt(serde_json::json!({"azp": "a2", "scp": " x  y "})))
            .unwrap();
        assert_eq!(v2.app_id.as_deref(), Some("a2"));
        assert_eq!(v2.scopes, ["x", "y"]);
        assert_eq!(v2.expires_on, None);
    }

    #[test]
    fn the_tenant_id_as_object_id_is_named() {
        let claims =
            EntraTokenClaims::decode(&jwt(serde_json::json!({"oid": "user", "tid": "tenant"})))
                .unwrap();
        assert!(
            claims
                .mistake("tenant")
                .unwrap()
                .contains("`oid` claim (user)")
        );
        assert_eq!(claims.mistake("user"), None);
        assert_eq!(claims.mistake("someone-else"), None, "left to the service");
    }

    #[test]
    fn claims_of_the_wrong_type_are_absent() {
        let claims = EntraTokenClaims::decode(&jwt(
            serde_json::json!({"oid": 5, "scp": ["a"], "exp": "soon"}),
        ))
        .unwrap();
        assert_eq!(claims.object_id, None);
        assert!(claims.scopes.is_empty());
        assert_eq!(claims.expires_on, None);
    }
}
