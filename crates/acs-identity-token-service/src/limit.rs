//! The per-user rate limit: at most N tokens a minute per app user, in
//! fixed one-minute windows counted from the user's first request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Past this many tracked users, windows that have ended are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// Counts requests per user.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimit {
    /// At most `per_minute` requests a minute per user; 0: no limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request of `user`: `Err` with the time until the user may
    /// ask again when the limit is reached.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(user.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_user_and_a_new_window_resets_it() {
        let limit = RateLimit::new(2);
        let t0 = Instant::now();
        assert!(limit.check("alice", t0).is_ok());
        assert!(limit.check("alice", t0).is_ok());
        let wait = limit
            .check("alice", t0 + Duration::from_secs(15))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(45));
        assert!(
            limit.check("bob", t0).is_ok(),
            "another user has a window of its own"
        );
        assert!(limit.check("alice", t0 + WINDOW).is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = RateLimit::new(0);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limit.check("alice", t0).is_ok()));
    }
}
