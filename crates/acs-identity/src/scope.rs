//! Token scopes.

use std::fmt;
use std::str::FromStr;

/// A permission an access token carries. The service may add scopes; an
/// unknown one is kept as [`TokenScope::Other`].
///
/// # Examples
///
/// ```
/// use acs_identity::TokenScope;
///
/// let scope: TokenScope = "chat.join.limited".parse()?;
/// assert_eq!(scope, TokenScope::ChatJoinLimited);
/// assert_eq!(TokenScope::VoipJoin.to_string(), "voip.join");
/// assert_eq!("teams.meeting".parse::<TokenScope>()?, TokenScope::Other("teams.meeting".into()));
/// # Ok::<(), acs_identity::InvalidScope>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TokenScope {
    /// `chat`: full use of the Chat APIs.
    Chat,
    /// `voip`: full use of the Calling APIs.
    Voip,
    /// `chat.join`: Chat without creating, updating or deleting threads.
    ChatJoin,
    /// `chat.join.limited`: like `chat.join`, and no adding or removing participants.
    ChatJoinLimited,
    /// `voip.join`: Calling without starting new calls.
    VoipJoin,
    /// Any other scope, as the service names it.
    Other(String),
}

/// A scope string that is empty or has white space or a comma in it.
///
/// # Examples
///
/// ```
/// use acs_identity::{InvalidScope, TokenScope};
///
/// assert_eq!("chat voip".parse::<TokenScope>(), Err(InvalidScope("chat voip".into())));
/// assert!("".parse::<TokenScope>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid token scope {0:?}: it must be non-empty, without spaces or commas")]
pub struct InvalidScope(pub String);

impl TokenScope {
    /// The wire value.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::TokenScope;
    ///
    /// assert_eq!(TokenScope::ChatJoin.as_str(), "chat.join");
    /// assert_eq!(TokenScope::Other("future.scope".into()).as_str(), "future.scope");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            TokenScope::Chat => "chat",
            TokenScope::Voip => "voip",
            TokenScope::ChatJoin => "chat.join",
            TokenScope::ChatJoinLimited => "chat.join.limited",
            TokenScope::VoipJoin => "voip.join",
            TokenScope::Other(s) => s,
        }
    }

    /// The five scopes the API documents.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::TokenScope;
    ///
    /// assert!(TokenScope::KNOWN.contains(&TokenScope::VoipJoin));
    /// assert!(TokenScope::KNOWN.iter().all(|s| !matches!(s, TokenScope::Other(_))));
    /// ```
    pub const KNOWN: [TokenScope; 5] = [
        TokenScope::Chat,
        TokenScope::Voip,
        TokenScope::ChatJoin,
        TokenScope::ChatJoinLimited,
        TokenScope::VoipJoin,
    ];
}

impl FromStr for TokenScope {
    type Err = InvalidScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "chat" => TokenScope::Chat,
            "voip" => TokenScope::Voip,
            "chat.join" => TokenScope::ChatJoin,
            "chat.join.limited" => TokenScope::ChatJoinLimited,
            "voip.join" => TokenScope::VoipJoin,
            _ if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ',') => {
                return Err(InvalidScope(s.to_string()));
            }
            other => TokenScope::Other(other.to_string()),
        })
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for TokenScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TokenScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scopes_round_trip_through_their_wire_values() {
        let table = [
            ("chat", TokenScope::Chat),
            ("voip", TokenScope::Voip),
            ("chat.join", TokenScope::ChatJoin),
            ("chat.join.limited", TokenScope::ChatJoinLimited),
            ("voip.join", TokenScope::VoipJoin),
            ("future.scope", TokenScope::Other("future.scope".into())),
        ];
        for (wire, scope) in table {
            assert_eq!(wire.parse::<TokenScope>().unwrap(), scope);
            assert_eq!(scope.to_string(), wire);
            assert_eq!(
                serde_json::to_string(&scope).unwrap(),
                format!("\"{wire}\"")
            );
            assert_eq!(
                serde_json::from_str::<TokenScope>(&format!("\"{wire}\"")).unwrap(),
                scope
            );
        }
    }

    #[test]
    fn bad_scopes_are_refused() {
        for bad in ["", "chat voip", "chat,voip", " chat"] {
            assert_eq!(
                bad.parse::<TokenScope>().unwrap_err(),
                InvalidScope(bad.into())
            );
        }
        assert!(serde_json::from_str::<TokenScope>("\"\"").is_err());
    }

    #[test]
    fn scope_names_are_case_sensitive() {
        assert_eq!(
            "Chat".parse::<TokenScope>().unwrap(),
            TokenScope::Other("Chat".into())
        );
    }
}
