//! The shared state of a credential and its clones, and the single
//! refresh in flight that every caller needing a new token awaits.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::FutureExt as _;
use tokio::sync::watch;

use crate::error::Error;
use crate::pipeline::Clock;
use crate::token::AccessToken;

use super::proactive::schedule;
use super::refreshed_token::InvalidToken;
use super::{BoxError, Flight, Refresh, Refresher, delta, utc};

/// The shared state. Only `Handle` holds it strongly: the background task and
/// the refreshes in flight hold a `Weak`.
pub(super) struct Shared {
    pub(super) refresher: Option<Refresher>,
    pub(super) window: TimeDelta,
    pub(super) proactive: bool,
    pub(super) margin: TimeDelta,
    pub(super) clock: Clock,
    pub(super) state: Mutex<State>,
    /// Bumped whenever the token, the schedule or `disposed` changes.
    pub(super) changes: watch::Sender<u64>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) token: Option<AccessToken>,
    /// The refresh in flight, with its number.
    pub(super) flight: Option<(u64, Flight)>,
    pub(super) flights: u64,
    /// The last refresh gave a token already inside the window: on-demand
    /// refreshes wait until then (the cached token is still valid).
    pub(super) on_demand_after: Option<DateTime<Utc>>,
    /// When the background task refreshes next.
    pub(super) proactive_at: Option<DateTime<Utc>>,
    pub(super) disposed: bool,
}

impl Shared {
    pub(super) fn new(
        refresher: Option<Refresher>,
        window: Duration,
        proactive: bool,
        margin: Duration,
        clock: Clock,
        state: State,
    ) -> Self {
        Self {
            refresher,
            window: delta(window),
            proactive,
            margin: delta(margin),
            clock,
            state: Mutex::new(state),
            changes: watch::Sender::new(0),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        utc(&self.clock)
    }

    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether the cached token can be returned without a refresh.
    pub(super) fn usable(
        &self,
        token: &AccessToken,
        now: DateTime<Utc>,
        on_demand_after: Option<DateTime<Utc>>,
    ) -> bool {
        let remaining = token.expires_on() - now;
        if remaining <= TimeDelta::zero() {
            return false;
        }
        remaining > self.window || on_demand_after.is_some_and(|after| now < after)
    }

    /// The refresh in flight, or a new one.
    pub(super) fn flight(self: &Arc<Self>, state: &mut State) -> Flight {
        if let Some((_, flight)) = &state.flight {
            return flight.clone();
        }
        let refresher = Arc::clone(
            self.refresher
                .as_ref()
                .expect("only called with a refresher"),
        );
        let clock = Arc::clone(&self.clock);
        let shared = Arc::downgrade(self);
        let id = state.flights;
        state.flights = state.flights.wrapping_add(1);
        let refresh: Refresh = Box::pin(async move {
            let result = refresher().await.and_then(|token| {
                if token.expires_on() > utc(&clock) {
                    Ok(token)
                } else {
                    let expired = InvalidToken::Expired {
                        expires_on: token.expires_on(),
                    };
                    Err(FlightError {
                        message: format!(
                            "the token returned from the token refresher is expired: {expired}"
                        ),
                        source: Some(FlightSource::Token(expired)),
                    })
                }
            });
            if let Some(shared) = shared.upgrade() {
                shared.finish(id, &result);
            }
            result
        });
        let flight = refresh.shared();
        state.flight = Some((id, flight.clone()));
        flight
    }

    /// Records the outcome of refresh `id`.
    pub(super) fn finish(&self, id: u64, result: &Result<AccessToken, FlightError>) {
        let now = self.now();
        {
            let mut state = self.state();
            if state
                .flight
                .as_ref()
                .is_none_or(|(current, _)| *current != id)
            {
                return; // disposed meanwhile
            }
            state.flight = None;
            match result {
                Ok(token) => {
                    let remaining = token.expires_on() - now;
                    state.on_demand_after = (remaining <= self.window).then(|| now + remaining / 2);
                    if self.proactive {
                        state.proactive_at = schedule(token.expires_on(), now, self.margin);
                    }
                    state.token = Some(token.clone());
                    tracing::debug!(expires_on = %token.expires_on(), "refreshed the communication token");
                }
                Err(e) => {
                    state.on_demand_after = None;
                    if self.proactive && state.proactive_at.is_none_or(|at| at <= now) {
                        state.proactive_at = state
                            .token
                            .as_ref()
                            .and_then(|token| schedule(token.expires_on(), now, self.margin));
                    }
                    tracing::warn!(error = %e.message, "refreshing the communication token failed");
                }
            }
        }
        self.changed();
    }

    pub(super) fn dispose(&self) {
        {
            let mut state = self.state();
            state.disposed = true;
            state.token = None;
            state.flight = None;
            state.proactive_at = None;
        }
        self.changed();
    }
}

/// A refresh outcome every waiter can get a copy of.
#[derive(Clone)]
pub(super) struct FlightError {
    pub(super) message: String,
    pub(super) source: Option<FlightSource>,
}

#[derive(Clone)]
pub(super) enum FlightSource {
    Token(InvalidToken),
    Refresher(Arc<dyn StdError + Send + Sync>),
}

impl From<FlightError> for Error {
    fn from(e: FlightError) -> Self {
        Error::Credential {
            message: e.message,
            source: e.source.map(|source| -> BoxError {
                match source {
                    FlightSource::Token(invalid) => Box::new(invalid),
                    FlightSource::Refresher(error) => Box::new(SharedError(error)),
                }
            }),
        }
    }
}

/// The refresher's error, shared by every waiter of a refresh.
struct SharedError(Arc<dyn StdError + Send + Sync>);

impl fmt::Debug for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl StdError for SharedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}
