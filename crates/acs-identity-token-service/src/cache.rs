//! Tokens minted earlier, per user and scopes, handed out again while they
//! have more than [`FRESH_FOR`] left (the official credentials refresh
//! proactively ten minutes before expiry, so a token closer to it would
//! only bring the caller back at once).
//!
//! The cache is per instance: a revoke through one instance clears its
//! cache only; behind a load balancer, turn the cache off if revocation
//! must take effect everywhere at once.

use std::collections::HashMap;
use std::sync::Mutex;

use acs_identity::AccessToken;
use chrono::{DateTime, Utc};

/// A cached token is handed out only while it has this much time left.
pub const FRESH_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Past this many entries, the ones no longer fresh are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// What a cached token was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    user: String,
    /// Scope names, sorted and joined by spaces.
    scopes: String,
}

/// A cached token and the identity it belongs to.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The ACS identity.
    pub acs_id: String,
    /// The token.
    pub token: AccessToken,
}

/// The token cache.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<Key, Cached>>,
}

fn key(user: &str, scopes: &[&str]) -> Key {
    let mut scopes = scopes.to_vec();
    scopes.sort_unstable();
    Key {
        user: user.to_string(),
        scopes: scopes.join(" "),
    }
}

impl TokenCache {
    /// A fresh token of `user` for exactly `scopes`.
    pub fn get(&self, user: &str, scopes: &[&str], now: DateTime<Utc>) -> Option<Cached> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key(user, scopes))
            .filter(|c| c.token.expires_on() - now > FRESH_FOR)
            .cloned()
    }

    /// Keeps `token` for `user` and `scopes`.
    pub fn put(&self, user: &str, scopes: &[&str], cached: Cached, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, c| c.token.expires_on() - now > FRESH_FOR);
        }
        entries.insert(key(user, scopes), cached);
    }

    /// Forgets every token of `user`.
    pub fn forget(&self, user: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| k.user != user);
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
