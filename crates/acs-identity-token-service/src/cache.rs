//! Tokens minted earlier, per user and scopes, handed out again while they
//! have more than [`FRESH_FOR`] left (the official credentials refresh
//! proactively ten minutes before expiry, so a token closer to it would
//! only bring the caller back at once).
//!
//! The cache is per instance: a revoke through one instance clears its
//! cache only; behind a load balancer, turn the cache off if revocation
//! must take effect everywhere at once.

use std::sync::Arc;
use std::time::Duration;

use acs_identity::AccessToken;
use chrono::{DateTime, Utc};

/// A cached token is handed out only while it has this much time left.
pub const FRESH_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The most users whose tokens are kept; past it the least used go.
const CAPACITY: u64 = 100_000;

/// No token lives longer than a day (the service's longest lifetime).
const LONGEST: Duration = Duration::from_secs(24 * 3600);

/// A cached token and the identity it belongs to.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The ACS identity.
    pub acs_id: String,
    /// The token.
    pub token: AccessToken,
}

/// The token cache: per user, the tokens minted for each set of scopes
/// (scope names sorted and joined by spaces). Bounded (moka: least used
/// users go first), concurrent, and each user's entry goes after a day.
#[derive(Debug)]
pub struct TokenCache {
    users: moka::sync::Cache<String, Arc<Vec<(String, Cached)>>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            users: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(LONGEST)
                .build(),
        }
    }
}

fn scopes_key(scopes: &[&str]) -> String {
    let mut scopes = scopes.to_vec();
    scopes.sort_unstable();
    scopes.join(" ")
}

impl TokenCache {
    /// A fresh token of `user` for exactly `scopes`.
    pub fn get(&self, user: &str, scopes: &[&str], now: DateTime<Utc>) -> Option<Cached> {
        let key = scopes_key(scopes);
        self.users
            .get(user)?
            .iter()
            .find(|(k, c)| *k == key && c.token.expires_on() - now > FRESH_FOR)
            .map(|(_, c)| c.clone())
    }

    /// Keeps `token` for `user` and `scopes` (and drops the user's tokens
    /// that are no longer fresh).
    pub fn put(&self, user: &str, scopes: &[&str], cached: Cached, now: DateTime<Utc>) {
        let key = scopes_key(scopes);
        let mut tokens: Vec<(String, Cached)> = self
            .users
            .get(user)
            .map(|t| {
                t.iter()
                    .filter(|(k, c)| *k != key && c.token.expires_on() - now > FRESH_FOR)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        tokens.push((key, cached));
        self.users.insert(user.to_string(), Arc::new(tokens));
    }

    /// Forgets every token of `user`.
    pub fn forget(&self, user: &str) {
        self.users.invalidate(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(expires_on: DateTime<Utc>) -> Cached {
        Cached {
            acs_id: "8:acs:x".into(),
            token: AccessToken::new("t", expires_on),
        }
    }

    #[test]
    fn a_token_is_handed_out_while_fresh_for_the_same_scopes_in_any_order() {
        let cache = TokenCache::default();
        let now = Utc::now();
        cache.put(
            "alice",
            &["voip", "chat"],
            cached(now + chrono::TimeDelta::hours(1)),
            now,
        );
        assert!(cache.get("alice", &["chat", "voip"], now).is_some());
        assert!(cache.get("alice", &["chat"], now).is_none());
        assert!(cache.get("bob", &["chat", "voip"], now).is_none());
        let later = now + chrono::TimeDelta::minutes(46);
        assert!(
            cache.get("alice", &["chat", "voip"], later).is_none(),
            "15 minutes left or less"
        );
        cache.forget("alice");
        assert!(cache.get("alice", &["chat", "voip"], now).is_none());
    }
}
