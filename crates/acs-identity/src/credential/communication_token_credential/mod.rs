//! [`CommunicationTokenCredential`]: a credential that keeps a user's
//! access token fresh, for chat and calling clients. Its behaviour is
//! described on the type.
//!
//! Single flight: the refresh in flight is a `Shared` boxed future kept in
//! the state; every caller that needs a new token awaits a clone of it, and
//! the future itself records its outcome (token or error) in the state.
//! The background task and the refreshes hold only a `Weak` of the state;
//! the clones' common `Handle` aborts the task when it is dropped.
//!
//! The parts: `builder` (the options), `refreshed_token` (what a
//! refresher returns, and why a token is refused), `flight` (the shared
//! state and the single refresh in flight), `proactive` (the background
//! task and its schedule), and `entra_user` (a refresher that exchanges an
//! Entra ID user's token).

mod builder;
mod entra_user;
mod flight;
mod proactive;
mod refreshed_token;
#[cfg(test)]
mod tests;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::Shared as SharedFuture;
use tokio::task::AbortHandle;

use crate::credential::BoxFuture;
use crate::error::{Error, Result};
use crate::pipeline::Clock;
use crate::token::AccessToken;

pub use builder::CommunicationTokenCredentialBuilder;
use flight::{FlightError, FlightSource, Shared, State};
pub use refreshed_token::{InvalidToken, RefreshedToken};
use refreshed_token::{expired_error, parse_argument};

/// The default on-demand refresh window.
const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(2 * 60);
/// The default proactive refresh margin.
const DEFAULT_PROACTIVE_MARGIN: Duration = Duration::from_secs(10 * 60);

type BoxError = Box<dyn StdError + Send + Sync>;
type Refresh = BoxFuture<'static, Result<AccessToken, FlightError>>;
type Refresher = Arc<dyn Fn() -> Refresh + Send + Sync>;
type Flight = SharedFuture<Refresh>;

/// A user's Communication Services access token, kept fresh: what chat and
/// calling clients ask for a token each time they need one.
///
/// Make one from a token with [`from_token`](Self::from_token) (it is
/// used until it expires), or from a refresher, an async closure that
/// fetches a new token (usually from your own token service), with
/// [`builder`](Self::builder). Clones share the cached token, the refresh in
/// flight and the background task. `Debug` never shows the token.
///
/// # Behaviour
///
/// - [`get_token`](Self::get_token) returns a token that is valid now. When
///   the cached token expires within the refresh window (2 minutes by
///   default) it calls the refresher first. If the refresher hands back a
///   token that itself expires within the window, that token is returned
///   and on-demand refreshes wait half of its remaining lifetime before
///   trying again.
/// - With [proactive refresh](CommunicationTokenCredentialBuilder::refresh_proactively),
///   a Tokio task refreshes 10 minutes (the margin) before expiry. When a
///   token expires sooner than that, the task waits half of its remaining
///   lifetime (at least a second), so a refresher that keeps returning the
///   same soon-to-expire token is called a few times, not in a loop. A
///   failed background refresh is retried the same way while the cached
///   token is valid.
/// - One refresh at a time: all callers that need a new token while a
///   refresh runs wait for that refresh, and all get its token or its
///   error. The next call after an error tries again.
/// - It never returns an expired token: a refresher that returns one fails
///   the refresh. The expiry is the JWT's `exp` claim (the payload is
///   decoded, the signature is not checked); a refresher can also return an
///   [`AccessToken`] with its expiry (see [`RefreshedToken`]).
/// - Dropping the last clone, or [`dispose`](Self::dispose), stops the
///   background task at once, even in the middle of a refresh. After
///   `dispose`, `get_token` fails on every clone.
///
/// # Examples
///
/// A refresher that asks the identity client for a new token of the user
/// (here against the local emulator):
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity::{CommunicationIdentityClient, CommunicationTokenCredential, TokenScope};
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let connection_string = emulator.connection_string();
///
/// let client = CommunicationIdentityClient::from_connection_string(&connection_string)?;
/// let user = client.create_user().await?;
///
/// let credential = CommunicationTokenCredential::builder(move || {
///     let (client, user) = (client.clone(), user.clone());
///     async move { client.get_token(&user, [TokenScope::Chat]).await }
/// })
/// .refresh_proactively(true)
/// .build()?;
///
/// let token = credential.get_token().await?;
/// assert!(token.expires_on() > chrono::Utc::now());
/// # assert!(emulator.is_token_valid(token.token()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct CommunicationTokenCredential {
    handle: Arc<Handle>,
}

/// Owned by the clones only; when the last one goes, the task is stopped.
struct Handle {
    shared: Arc<Shared>,
    task: Option<AbortHandle>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl CommunicationTokenCredential {
    /// A credential that always returns `token`, until it expires; after
    /// that, [`get_token`](Self::get_token) fails.
    ///
    /// # Errors
    ///
    /// [`Error::Credential`], with an [`InvalidToken`] as its source, when
    /// `token` is not a JWT with an `exp` claim or has already expired.
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let jwt = |exp: i64| format!("{}.{}.c2ln", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(format!(r#"{{"exp":{exp}}}"#)));
    /// use acs_identity::CommunicationTokenCredential;
    ///
    /// let in_one_hour = chrono::Utc::now().timestamp() + 3600;
    /// let credential = CommunicationTokenCredential::from_token(&jwt(in_one_hour))?;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let token = credential.get_token().await?;
    /// assert_eq!(token.expires_on().timestamp(), in_one_hour);
    /// # Ok::<(), acs_identity::Error>(())
    /// # })?;
    ///
    /// let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    /// assert!(CommunicationTokenCredential::from_token(&jwt(an_hour_ago)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_token(token: &str) -> Result<Self> {
        Self::from_token_at(token, system_clock())
    }

    fn from_token_at(token: &str, clock: Clock) -> Result<Self> {
        let token = parse_argument(token)?;
        if token.expires_on() <= utc(&clock) {
            return Err(expired_error("the token has expired", token.expires_on()));
        }
        let state = State {
            token: Some(token),
            ..State::default()
        };
        let shared = Shared::new(
            None,
            DEFAULT_REFRESH_WINDOW,
            false,
            DEFAULT_PROACTIVE_MARGIN,
            clock,
            state,
        );
        Ok(Self {
            handle: Arc::new(Handle {
                shared: Arc::new(shared),
                task: None,
            }),
        })
    }

    /// A builder for a credential that gets its tokens from `refresher`: a
    /// closure returning a future of the new token, as a `String` (a JWT)
    /// or an [`AccessToken`] (see [`RefreshedToken`]), or of an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let jwt = |exp: i64| format!("{}.{}.c2ln", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(format!(r#"{{"exp":{exp}}}"#)));
    /// use acs_identity::CommunicationTokenCredential;
    /// use std::time::Duration;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// // In an app: ask your token service for a new token of the signed-in user.
    /// let fetch = move || async move {
    ///     let in_one_hour = chrono::Utc::now().timestamp() + 3600;
    ///     Ok::<_, std::io::Error>(jwt(in_one_hour))
    /// };
    /// let credential = CommunicationTokenCredential::builder(fetch)
    ///     .refresh_window(Duration::from_secs(5 * 60))
    ///     .refresh_proactively(true)
    ///     .build()?;
    /// let token = credential.get_token().await?;
    /// assert!(token.expires_on() > chrono::Utc::now());
    /// # Ok::<(), acs_identity::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder<F, Fut, T, E>(refresher: F) -> CommunicationTokenCredentialBuilder
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: RefreshedToken,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let refresher: Refresher = Arc::new(move || -> Refresh {
            let refresh = refresher();
            Box::pin(async move {
                match refresh.await {
                    Ok(token) => token.into_access_token().map_err(|e| FlightError {
                        message: format!("the token refresher returned an invalid token: {e}"),
                        source: Some(FlightSource::Token(e)),
                    }),
                    Err(e) => {
                        let e: BoxError = e.into();
                        Err(FlightError {
                            message: format!("the token refresher failed: {e}"),
                            source: Some(FlightSource::Refresher(Arc::from(e))),
                        })
                    }
                }
            })
        });
        CommunicationTokenCredentialBuilder {
            refresher,
            initial_token: None,
            refresh_window: DEFAULT_REFRESH_WINDOW,
            refresh_proactively: false,
            proactive_margin: DEFAULT_PROACTIVE_MARGIN,
            clock: system_clock(),
        }
    }

    /// A token that is valid now. The cached token when it expires after
    /// the refresh window; otherwise the refresher's next token (waiting for
    /// the refresh already in flight, if there is one).
    ///
    /// # Errors
    ///
    /// [`Error::Credential`] when the refresher fails (its error is the
    /// source), returns a malformed or expired token (an [`InvalidToken`]
    /// is the source), when a token without refresher has expired, or after
    /// [`dispose`](Self::dispose).
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let jwt = |exp: i64| format!("{}.{}.c2ln", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(format!(r#"{{"exp":{exp}}}"#)));
    /// use acs_identity::CommunicationTokenCredential;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let counter = Arc::clone(&calls);
    /// let credential = CommunicationTokenCredential::builder(move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     async move { Ok::<_, String>(jwt(chrono::Utc::now().timestamp() + 3600)) }
    /// })
    /// .build()?;
    ///
    /// let first = credential.get_token().await?;
    /// let second = credential.get_token().await?;
    /// assert_eq!(first, second); // cached: still an hour to go
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// # Ok::<(), acs_identity::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn get_token(&self) -> Result<AccessToken> {
        let shared = &self.handle.shared;
        let flight = {
            let mut state = shared.state();
            if state.disposed {
                return Err(disposed_error());
            }
            let now = shared.now();
            match (&shared.refresher, &state.token) {
                (None, Some(token)) if token.expires_on() > now => return Ok(token.clone()),
                (None, Some(token)) => {
                    return Err(expired_error(
                        "the token has expired and the credential has no refresher",
                        token.expires_on(),
                    ));
                }
                (None, None) => return Err(disposed_error()),
                (Some(_), Some(token)) if shared.usable(token, now, state.on_demand_after) => {
                    return Ok(token.clone());
                }
                (Some(_), _) => shared.flight(&mut state),
            }
        };
        let token = flight.await.map_err(Error::from)?;
        if shared.state().disposed {
            return Err(disposed_error());
        }
        Ok(token)
    }

    /// Stops the background task, forgets the token and makes every later
    /// [`get_token`](Self::get_token), on any clone, fail. Dropping the last
    /// clone stops the task too; `dispose` is for stopping it earlier.
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let jwt = |exp: i64| format!("{}.{}.c2ln", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(format!(r#"{{"exp":{exp}}}"#)));
    /// use acs_identity::CommunicationTokenCredential;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let credential = CommunicationTokenCredential::builder(move || async move {
    ///     Ok::<_, String>(jwt(chrono::Utc::now().timestamp() + 3600))
    /// })
    /// .refresh_proactively(true)
    /// .build()?;
    /// let clone = credential.clone();
    /// credential.dispose();
    /// let err = clone.get_token().await.unwrap_err();
    /// assert_eq!(err.to_string(), "credential failed: the credential is disposed");
    /// # Ok::<(), acs_identity::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dispose(&self) {
        if let Some(task) = &self.handle.task {
            task.abort();
        }
        self.handle.shared.dispose();
    }
}

impl fmt::Debug for CommunicationTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        let state = shared.state();
        f.debug_struct("CommunicationTokenCredential")
            .field("token", &state.token.as_ref().map(|_| "***"))
            .field(
                "expires_on",
                &state.token.as_ref().map(AccessToken::expires_on),
            )
            .field("refresher", &shared.refresher.is_some())
            .field("refresh_proactively", &shared.proactive)
            .field("disposed", &state.disposed)
            .finish_non_exhaustive()
    }
}

fn system_clock() -> Clock {
    Arc::new(std::time::SystemTime::now)
}

/// The clock's reading as a UTC date, as tokens state their expiry.
fn utc(clock: &Clock) -> DateTime<Utc> {
    DateTime::from(clock())
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn disposed_error() -> Error {
    Error::Credential {
        message: "the credential is disposed".into(),
        source: None,
    }
}
