//! Proactive refresh: when the background task refreshes, and the task.

use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::flight::Shared;

/// The shortest wait between two proactive refreshes.
const MIN_PROACTIVE_DELAY: TimeDelta = TimeDelta::seconds(1);

/// When to refresh a token that expires at `expires_on`: `margin` before,
/// or, when that has passed, after half of its remaining lifetime (at least
/// [`MIN_PROACTIVE_DELAY`]). `None` once it has expired.
pub(super) fn schedule(
    expires_on: DateTime<Utc>,
    now: DateTime<Utc>,
    margin: TimeDelta,
) -> Option<DateTime<Utc>> {
    if expires_on <= now {
        return None;
    }
    let at = expires_on
        .checked_sub_signed(margin)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if at > now {
        return Some(at);
    }
    let half = (expires_on - now) / 2;
    Some(now + half.max(MIN_PROACTIVE_DELAY))
}

/// The background task: sleeps until the next scheduled refresh, refreshes
/// through the same single flight as `get_token`, and ends when the
/// credential is gone (`Weak` upgrade fails, the watch sender is dropped),
/// disposed, or aborted.
pub(super) async fn proactive_refresh(shared: Weak<Shared>, mut changes: watch::Receiver<u64>) {
    loop {
        let wait = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            changes.borrow_and_update();
            let state = shared.state();
            if state.disposed {
                return;
            }
            state
                .proactive_at
                .map(|at| (at - shared.now()).to_std().unwrap_or(Duration::ZERO))
        };
        match wait {
            None => {
                if changes.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Some(wait) => {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        continue;
                    }
                }
            }
        }
        let flight = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut state = shared.state();
            if state.disposed {
                return;
            }
            if state.proactive_at.is_none_or(|at| at > shared.now()) {
                continue; // rescheduled meanwhile
            }
            shared.flight(&mut state)
        };
        // Failures are logged and rescheduled by `finish`.
        let _ = flight.await;
    }
}
