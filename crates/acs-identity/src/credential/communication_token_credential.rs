//! [`CommunicationTokenCredential`]: a credential that keeps a user's
//! access token fresh, for chat and calling clients. Its behaviour is
//! described on the type.
//!
//! Single flight: the refresh in flight is a `Shared` boxed future kept in
//! the state; every caller that needs a new token awaits a clone of it, and
//! the future itself records its outcome (token or error) in the state.
//! The background task and the refreshes hold only a `Weak` of the state;
//! the clones' common `Handle` aborts the task when it is dropped.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::FutureExt as _;
use futures_util::future::Shared as SharedFuture;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::credential::BoxFuture;
use crate::error::{Error, Result};
use crate::pipeline::Clock;
use crate::token::AccessToken;

/// The default on-demand refresh window.
const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(2 * 60);
/// The default proactive refresh margin.
const DEFAULT_PROACTIVE_MARGIN: Duration = Duration::from_secs(10 * 60);
/// The shortest wait between two proactive refreshes.
const MIN_PROACTIVE_DELAY: TimeDelta = TimeDelta::seconds(1);

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

/// The shared state. Only `Handle` holds it strongly: the background task and
/// the refreshes in flight hold a `Weak`.
struct Shared {
    refresher: Option<Refresher>,
    window: TimeDelta,
    proactive: bool,
    margin: TimeDelta,
    clock: Clock,
    state: Mutex<State>,
    /// Bumped whenever the token, the schedule or `disposed` changes.
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    token: Option<AccessToken>,
    /// The refresh in flight, with its number.
    flight: Option<(u64, Flight)>,
    flights: u64,
    /// The last refresh gave a token already inside the window: on-demand
    /// refreshes wait until then (the cached token is still valid).
    on_demand_after: Option<DateTime<Utc>>,
    /// When the background task refreshes next.
    proactive_at: Option<DateTime<Utc>>,
    disposed: bool,
}

/// What a token refresher may return: the token string (its expiry is read
/// from the JWT's `exp` claim), or an [`AccessToken`] (its `expires_on` is
/// used as is, for tokens whose payload cannot be read).
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessToken, RefreshedToken};
///
/// let opaque = AccessToken::new("an.encrypted.token.value", "2030-01-01T00:00:00Z".parse()?);
/// assert_eq!(opaque.clone().into_access_token()?, opaque);
/// assert!(String::from("not a jwt").into_access_token().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RefreshedToken: Send + 'static {
    /// The token and its expiry.
    ///
    /// # Errors
    ///
    /// [`InvalidToken`] when the expiry cannot be read from the token.
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken>;
}

impl RefreshedToken for String {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        let expires_on = token_expiry(&self)?;
        Ok(AccessToken::new(self, expires_on))
    }
}

impl RefreshedToken for &'static str {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        Ok(AccessToken::new(self, token_expiry(self)?))
    }
}

impl RefreshedToken for AccessToken {
    fn into_access_token(self) -> std::result::Result<AccessToken, InvalidToken> {
        Ok(self)
    }
}

/// Why a token was refused. It is the `source` of the
/// [`Error::Credential`] that [`CommunicationTokenCredential`] returns.
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationTokenCredential, Error, InvalidToken};
///
/// let err = CommunicationTokenCredential::from_token("a.b").unwrap_err();
/// assert!(matches!(err, Error::Credential { .. }));
/// let why = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<InvalidToken>());
/// assert_eq!(why, Some(&InvalidToken::NotAJwt { parts: 2 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// The token is empty.
    #[error("the token is empty")]
    Empty,
    /// The token is JSON, such as a whole token response.
    #[error("the token looks like JSON, not a JWT: pass the value of its `token` field")]
    LooksLikeJson,
    /// The token does not have the three dot-separated parts of a JWT.
    #[error("the token is not a JWT: it has {parts} dot-separated part(s) instead of 3")]
    NotAJwt {
        /// How many parts it has.
        parts: usize,
    },
    /// A part is not base64url.
    #[error("the token's JWT {part} is not base64url")]
    Base64 {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// A part is not a JSON object.
    #[error("the token's JWT {part} is not a JSON object")]
    NotJson {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// The payload has no `exp` claim.
    #[error("the token has no `exp` claim")]
    MissingExp,
    /// The `exp` claim is not a number of seconds since 1970.
    #[error("the token's `exp` claim is not a number of seconds since 1970")]
    InvalidExp,
    /// The token has expired.
    #[error("the token expired at {expires_on}")]
    Expired {
        /// When it expired.
        expires_on: DateTime<Utc>,
    },
}

/// Reads the `exp` claim of a JWT, without checking its signature.
fn token_expiry(token: &str) -> std::result::Result<DateTime<Utc>, InvalidToken> {
    crate::entra_claims::expiry(&crate::entra_claims::payload(token)?)
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

/// Options of a [`CommunicationTokenCredential`] with a refresher; from
/// [`CommunicationTokenCredential::builder`].
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
/// # let token_from_sign_in = jwt(chrono::Utc::now().timestamp() + 3600);
/// let credential = CommunicationTokenCredential::builder(move || async move {
///     Ok::<_, String>(jwt(chrono::Utc::now().timestamp() + 3600))
/// })
/// .initial_token(&token_from_sign_in) // used until it is due for a refresh
/// .refresh_window(Duration::from_secs(2 * 60)) // the default
/// .refresh_proactively(true) // default: false
/// .proactive_margin(Duration::from_secs(10 * 60)) // the default
/// .build()?;
/// assert_eq!(credential.get_token().await?.token(), token_from_sign_in);
/// # Ok::<(), acs_identity::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct CommunicationTokenCredentialBuilder {
    refresher: Refresher,
    initial_token: Option<String>,
    refresh_window: Duration,
    refresh_proactively: bool,
    proactive_margin: Duration,
    clock: Clock,
}

impl fmt::Debug for CommunicationTokenCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunicationTokenCredentialBuilder")
            .field("initial_token", &self.initial_token.as_ref().map(|_| "***"))
            .field("refresh_window", &self.refresh_window)
            .field("refresh_proactively", &self.refresh_proactively)
            .field("proactive_margin", &self.proactive_margin)
            .finish_non_exhaustive()
    }
}

impl CommunicationTokenCredentialBuilder {
    /// A token to start with, such as the one the app got at sign-in. It is
    /// used until it is due for a refresh; an expired one is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let jwt = |exp: i64| format!("{}.{}.c2ln", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(format!(r#"{{"exp":{exp}}}"#)));
    /// use acs_identity::CommunicationTokenCredential;
    ///
    /// let refresher = || async { Err::<String, _>("no refresh needed in this example") };
    /// let result = CommunicationTokenCredential::builder(refresher).initial_token("not-a-jwt").build();
    /// assert!(result.is_err()); // a malformed initial token is refused by `build`
    /// ```
    pub fn initial_token(mut self, token: impl Into<String>) -> Self {
        self.initial_token = Some(token.into());
        self
    }

    /// How long before expiry [`get_token`](CommunicationTokenCredential::get_token)
    /// refreshes the token instead of returning it (default 2 minutes).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationTokenCredential;
    /// use std::time::Duration;
    ///
    /// let refresher = || async { Err::<String, _>("unused") };
    /// let builder = CommunicationTokenCredential::builder(refresher).refresh_window(Duration::from_secs(300));
    /// assert!(format!("{builder:?}").contains("300s"));
    /// ```
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.refresh_window = window;
        self
    }

    /// Whether a background task refreshes the token before it is needed,
    /// [`proactive_margin`](Self::proactive_margin) before it expires
    /// (default false). It needs a Tokio runtime when
    /// [`build`](Self::build) is called, and stops when the last clone of
    /// the credential is dropped or disposed.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationTokenCredential;
    ///
    /// let refresher = || async { Err::<String, _>("unused") };
    /// // Outside a Tokio runtime, a background task cannot be started:
    /// let result = CommunicationTokenCredential::builder(refresher).refresh_proactively(true).build();
    /// assert!(result.is_err());
    /// ```
    pub fn refresh_proactively(mut self, proactive: bool) -> Self {
        self.refresh_proactively = proactive;
        self
    }

    /// How long before expiry the background task refreshes (default 10
    /// minutes). When a token expires sooner than that, the task waits half
    /// of its remaining lifetime instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationTokenCredential;
    /// use std::time::Duration;
    ///
    /// let refresher = || async { Err::<String, _>("unused") };
    /// let builder = CommunicationTokenCredential::builder(refresher)
    ///     .refresh_proactively(true)
    ///     .proactive_margin(Duration::from_secs(15 * 60));
    /// assert!(format!("{builder:?}").contains("900s"));
    /// ```
    pub fn proactive_margin(mut self, margin: Duration) -> Self {
        self.proactive_margin = margin;
        self
    }

    /// The credential. With proactive refresh, this starts its background
    /// task; without an initial token, that task fetches the first token at
    /// once.
    ///
    /// # Errors
    ///
    /// [`Error::Credential`] when the initial token is malformed
    /// ([`InvalidToken`] is the source); [`Error::InvalidArgument`] when
    /// proactive refresh is on and there is no Tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationTokenCredential;
    ///
    /// let credential = CommunicationTokenCredential::builder(|| async { Err::<String, _>("offline") }).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let err = credential.get_token().await.unwrap_err();
    /// assert_eq!(err.to_string(), "credential failed: the token refresher failed: offline");
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<CommunicationTokenCredential> {
        let now = utc(&self.clock);
        let token = match &self.initial_token {
            Some(token) => Some(parse_argument(token)?).filter(|t| t.expires_on() > now),
            None => None,
        };
        let runtime = if self.refresh_proactively {
            Some(tokio::runtime::Handle::try_current().map_err(|_| {
                Error::invalid(
                    "refresh_proactively",
                    "proactive refresh needs a Tokio runtime: build the credential inside one",
                )
            })?)
        } else {
            None
        };
        let margin = delta(self.proactive_margin);
        let proactive_at = match (&runtime, &token) {
            (None, _) => None,
            (Some(_), Some(token)) => schedule(token.expires_on(), now, margin),
            (Some(_), None) => Some(now),
        };
        let state = State {
            token,
            proactive_at,
            ..State::default()
        };
        let shared = Arc::new(Shared::new(
            Some(self.refresher),
            self.refresh_window,
            self.refresh_proactively,
            self.proactive_margin,
            self.clock,
            state,
        ));
        let task = runtime.map(|runtime| {
            let changes = shared.changes.subscribe();
            runtime
                .spawn(proactive_refresh(Arc::downgrade(&shared), changes))
                .abort_handle()
        });
        Ok(CommunicationTokenCredential {
            handle: Arc::new(Handle { shared, task }),
        })
    }
}

impl Shared {
    fn new(
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

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        utc(&self.clock)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether the cached token can be returned without a refresh.
    fn usable(
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
    fn flight(self: &Arc<Self>, state: &mut State) -> Flight {
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
    fn finish(&self, id: u64, result: &Result<AccessToken, FlightError>) {
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

    fn dispose(&self) {
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

/// When to refresh a token that expires at `expires_on`: `margin` before,
/// or, when that has passed, after half of its remaining lifetime (at least
/// [`MIN_PROACTIVE_DELAY`]). `None` once it has expired.
fn schedule(
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
async fn proactive_refresh(shared: Weak<Shared>, mut changes: watch::Receiver<u64>) {
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

/// A refresh outcome every waiter can get a copy of.
#[derive(Clone)]
struct FlightError {
    message: String,
    source: Option<FlightSource>,
}

#[derive(Clone)]
enum FlightSource {
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

/// A token passed in by the caller.
fn parse_argument(token: &str) -> Result<AccessToken> {
    token
        .to_string()
        .into_access_token()
        .map_err(|e| Error::Credential {
            message: format!("invalid token: {e}"),
            source: Some(Box::new(e)),
        })
}

fn expired_error(message: &str, expires_on: DateTime<Utc>) -> Error {
    let expired = InvalidToken::Expired { expires_on };
    Error::Credential {
        message: format!("{message}: {expired}"),
        source: Some(Box::new(expired)),
    }
}

fn disposed_error() -> Error {
    Error::Credential {
        message: "the credential is disposed".into(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use tokio::time::{Instant, sleep};

    use super::*;

    /// The wall-clock time at the start of every test (whole seconds).
    const ANCHOR: i64 = 1_900_000_000;

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    /// A clock that follows Tokio's (paused) time from `ANCHOR`.
    fn paused_clock() -> Clock {
        let start = Instant::now();
        Arc::new(move || (anchor() + TimeDelta::from_std(start.elapsed()).unwrap()).into())
    }

    fn anchor() -> DateTime<Utc> {
        DateTime::from_timestamp(ANCHOR, 0).unwrap()
    }

    fn jwt_with_payload(payload: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode("signature")
        )
    }

    /// A JWT expiring `seconds` after the anchor.
    fn jwt_at(seconds: i64) -> String {
        jwt_with_payload(&format!(
            r#"{{"skypeid":"acs:test","scp":1792,"exp":{}}}"#,
            ANCHOR + seconds
        ))
    }

    /// A JWT expiring `lifetime` after `clock`'s now.
    fn jwt_in(clock: &Clock, lifetime: Duration) -> String {
        let exp = utc(clock) + TimeDelta::from_std(lifetime).unwrap();
        jwt_with_payload(&format!(r#"{{"exp":{}}}"#, exp.timestamp()))
    }

    /// The seconds since the anchor at each refresher call.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<Vec<f64>>>);

    impl Calls {
        fn record(&self, clock: &Clock) {
            let since = (utc(clock) - anchor()).num_milliseconds() as f64 / 1000.0;
            self.0.lock().unwrap().push(since);
        }
        fn count(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        fn times(&self) -> Vec<f64> {
            self.0.lock().unwrap().clone()
        }
    }

    /// A builder on the paused clock whose refresher records its calls and
    /// returns `token(clock)`.
    fn counting(
        clock: &Clock,
        calls: &Calls,
        token: impl Fn(&Clock) -> String + Send + Sync + 'static,
    ) -> CommunicationTokenCredentialBuilder {
        let (refresher_clock, calls) = (Arc::clone(clock), calls.clone());
        let mut builder = CommunicationTokenCredential::builder(move || {
            calls.record(&refresher_clock);
            let token = token(&refresher_clock);
            async move { Ok::<_, String>(token) }
        });
        builder.clock = Arc::clone(clock);
        builder
    }

    fn invalid_token_of(err: &Error) -> Option<&InvalidToken> {
        StdError::source(err).and_then(|s| s.downcast_ref::<InvalidToken>())
    }

    fn alive_tasks() -> usize {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    }

    #[test]
    fn reads_exp_from_the_payload_with_or_without_padding() {
        let exp = DateTime::from_timestamp(ANCHOR, 0).unwrap();
        assert_eq!(token_expiry(&jwt_at(0)), Ok(exp));
        let payload = format!(r#"{{"exp":{ANCHOR}}}"#);
        let padded = format!(
            "{}.{}.sig",
            URL_SAFE.encode("{}"),
            URL_SAFE.encode(&payload)
        );
        assert!(padded.contains('='));
        assert_eq!(token_expiry(&padded), Ok(exp));
        // A fractional NumericDate is cut to the second.
        assert_eq!(
            token_expiry(&jwt_with_payload(&format!(r#"{{"exp":{ANCHOR}.75}}"#))),
            Ok(exp)
        );
        // base64url's `-` and `_` are decoded (the standard alphabet would not).
        let url_only = jwt_with_payload(&format!(r#"{{"n":"??>>","exp":{ANCHOR}}}"#));
        assert!(url_only.split('.').nth(1).unwrap().contains(['-', '_']));
        assert_eq!(token_expiry(&url_only), Ok(exp));
    }

    #[test]
    fn malformed_tokens_get_typed_errors() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let cases = [
            (String::new(), InvalidToken::Empty),
            ("   ".to_string(), InvalidToken::Empty),
            (
                r#"{"token":"x","expiresOn":"2030-01-01T00:00:00Z"}"#.to_string(),
                InvalidToken::LooksLikeJson,
            ),
            (
                "opaque-token".to_string(),
                InvalidToken::NotAJwt { parts: 1 },
            ),
            ("a.b".to_string(), InvalidToken::NotAJwt { parts: 2 }),
            ("a.b.c.d.e".to_string(), InvalidToken::NotAJwt { parts: 5 }),
            (
                format!("{}.{}.sig", b64("{}"), "not*base64!"),
                InvalidToken::Base64 { part: "payload" },
            ),
            (
                format!("Bearer {}.{}.sig", b64("{}"), b64(r#"{"exp":1}"#)),
                InvalidToken::Base64 { part: "header" },
            ),
            (
                format!("{}.{}.sig", b64("{}"), b64("[1,2]")),
                InvalidToken::NotJson { part: "payload" },
            ),
            (
                format!("{}.{}.sig", b64("plain"), b64(r#"{"exp":1}"#)),
                InvalidToken::NotJson { part: "header" },
            ),
            (jwt_with_payload(r#"{"sub":"x"}"#), InvalidToken::MissingExp),
            (
                jwt_with_payload(r#"{"exp":"1900000000"}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":null}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":1e300}"#),
                InvalidToken::InvalidExp,
            ),
            (
                jwt_with_payload(r#"{"exp":18446744073709551615}"#),
                InvalidToken::InvalidExp,
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(token_expiry(&token), Err(expected.clone()), "{token:?}");
            let err = CommunicationTokenCredential::from_token(&token).unwrap_err();
            assert!(matches!(err, Error::Credential { .. }), "{err:?}");
            assert_eq!(invalid_token_of(&err), Some(&expected));
            assert_eq!(
                err.to_string(),
                format!("credential failed: invalid token: {expected}")
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_static_token_is_returned_until_it_expires() {
        let clock = paused_clock();
        let token = jwt_at(3600);
        let credential =
            CommunicationTokenCredential::from_token_at(&token, Arc::clone(&clock)).unwrap();
        let got = credential.get_token().await.unwrap();
        assert_eq!(got.token(), token);
        assert_eq!(got.expires_on().timestamp(), ANCHOR + 3600);

        // Inside the refresh window it is still returned: there is nothing to refresh with.
        sleep(Duration::from_secs(3599)).await;
        assert_eq!(credential.get_token().await.unwrap().token(), token);

        sleep(Duration::from_secs(1)).await;
        let err = credential.get_token().await.unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(matches!(
            invalid_token_of(&err),
            Some(InvalidToken::Expired { .. })
        ));

        // An expired token is refused up front.
        let err = CommunicationTokenCredential::from_token_at(&jwt_at(3600), clock).unwrap_err();
        assert!(matches!(
            invalid_token_of(&err),
            Some(InvalidToken::Expired { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn get_token_refreshes_within_the_window_and_not_before() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
            .initial_token(jwt_at(10 * 60))
            .build()
            .unwrap();
        assert_eq!(
            credential.get_token().await.unwrap().token(),
            jwt_at(10 * 60)
        );

        // 2 min 1 s before expiry: still cached.
        sleep(Duration::from_secs(8 * 60 - 1)).await;
        assert_eq!(
            credential.get_token().await.unwrap().token(),
            jwt_at(10 * 60)
        );
        assert_eq!(calls.count(), 0);

        // 1 min 59 s before expiry: refreshed first.
        sleep(Duration::from_secs(2)).await;
        let fresh = credential.get_token().await.unwrap();
        assert_eq!(calls.count(), 1);
        assert_eq!(
            fresh.expires_on().timestamp(),
            ANCHOR + 8 * 60 + 1 + 60 * 60
        );
        assert_eq!(credential.get_token().await.unwrap(), fresh);
        assert_eq!(calls.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_is_configurable_and_an_expired_initial_token_is_ignored() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
            .initial_token(jwt_at(10 * 60))
            .refresh_window(minutes(15))
            .build()
            .unwrap();
        credential.get_token().await.unwrap();
        assert_eq!(calls.count(), 1);

        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
            .initial_token(jwt_at(-1))
            .build()
            .unwrap();
        let token = credential.get_token().await.unwrap();
        assert_eq!(calls.count(), 2);
        assert_eq!(token.expires_on(), utc(&clock) + TimeDelta::minutes(60));
    }

    #[tokio::test(start_paused = true)]
    async fn proactive_refresh_happens_ten_minutes_before_expiry_not_before() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
            .initial_token(jwt_at(30 * 60))
            .refresh_proactively(true)
            .build()
            .unwrap();

        sleep(Duration::from_secs(20 * 60 - 1)).await;
        assert_eq!(calls.count(), 0, "refreshed before exp - 10 min");
        sleep(Duration::from_secs(2)).await;
        assert_eq!(calls.times(), [20.0 * 60.0]);
        // Callers get the new token without waiting for a refresh.
        let token = credential.get_token().await.unwrap();
        assert_eq!(token.expires_on().timestamp(), ANCHOR + 80 * 60);
        assert_eq!(calls.count(), 1);

        // The next one is 10 minutes before the new token expires.
        sleep(Duration::from_secs(50 * 60 - 2)).await;
        assert_eq!(calls.count(), 1);
        sleep(Duration::from_secs(2)).await;
        assert_eq!(calls.times(), [20.0 * 60.0, 70.0 * 60.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_soon_expiring_token_backs_off_by_half_its_lifetime() {
        // The refresher keeps returning the same token, 6 minutes from expiry
        // at the start (the MSAL cache case): no refresh storm.
        let (clock, calls) = (paused_clock(), Calls::default());
        let _credential = counting(&clock, &calls, |_| jwt_at(6 * 60))
            .initial_token(jwt_at(6 * 60))
            .refresh_proactively(true)
            .build()
            .unwrap();

        sleep(Duration::from_secs(3 * 60 - 1)).await;
        assert_eq!(calls.count(), 0);
        sleep(minutes(60)).await;
        let times = calls.times();
        assert_eq!(
            times[..3],
            [180.0, 270.0, 315.0],
            "after 3 min, then 1.5, then 0.75"
        );
        // Each wait is half the remaining lifetime, until the 1 s floor.
        for pair in times.windows(2) {
            let remaining = 360.0 - pair[0];
            let expected = (remaining / 2.0).max(1.0);
            assert!((pair[1] - pair[0] - expected).abs() < 0.01, "{times:?}");
        }
        // Then the token expires, the refresher's copy is refused, and the
        // task waits for a new token instead of looping.
        assert!(times.len() <= 12, "{times:?}");
        assert!(*times.last().unwrap() <= 361.0, "{times:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn fresh_short_lived_tokens_are_refreshed_at_half_life() {
        // Each new token lives 6 minutes, less than the 10-minute margin:
        // one refresh every 3 minutes, 20 in an hour.
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(6)))
            .initial_token(jwt_at(6 * 60))
            .refresh_proactively(true)
            .build()
            .unwrap();
        sleep(minutes(60) + Duration::from_secs(30)).await;
        assert_eq!(calls.count(), 20, "{:?}", calls.times());
        for (i, at) in calls.times().into_iter().enumerate() {
            assert_eq!(at, 180.0 * (i + 1) as f64);
        }
        assert!(credential.get_token().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn one_refresh_for_100_concurrent_callers() {
        let clock = paused_clock();
        let calls = Arc::new(AtomicU32::new(0));
        let (counter, refresher_clock) = (Arc::clone(&calls), Arc::clone(&clock));
        let mut builder = CommunicationTokenCredential::builder(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let token = jwt_in(&refresher_clock, minutes(60 + u64::from(n)));
            async move {
                sleep(Duration::from_secs(5)).await;
                Ok::<_, std::io::Error>(token)
            }
        });
        builder.clock = Arc::clone(&clock);
        let credential = builder.build().unwrap();

        let callers: Vec<_> = (0..100)
            .map(|_| {
                let credential = credential.clone();
                tokio::spawn(async move { credential.get_token().await })
            })
            .collect();
        let mut tokens = Vec::new();
        for caller in callers {
            tokens.push(caller.await.unwrap().unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(tokens.iter().all(|t| *t == tokens[0]));
        assert_eq!(credential.get_token().await.unwrap(), tokens[0]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("token service unavailable")]
    struct Unavailable;

    #[tokio::test(start_paused = true)]
    async fn a_refresher_error_reaches_every_waiter_and_a_later_call_retries() {
        let clock = paused_clock();
        let calls = Arc::new(AtomicU32::new(0));
        let (counter, refresher_clock) = (Arc::clone(&calls), Arc::clone(&clock));
        let mut builder = CommunicationTokenCredential::builder(move || {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            let token = jwt_in(&refresher_clock, minutes(60));
            async move {
                sleep(Duration::from_secs(1)).await;
                if first { Err(Unavailable) } else { Ok(token) }
            }
        });
        builder.clock = Arc::clone(&clock);
        let credential = builder.build().unwrap();

        let results =
            futures_util::future::join_all((0..100).map(|_| credential.get_token())).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for result in results {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::Credential { .. }));
            assert_eq!(
                err.to_string(),
                "credential failed: the token refresher failed: token service unavailable"
            );
            let source = StdError::source(&err).unwrap();
            assert_eq!(source.to_string(), "token service unavailable");
        }

        let token = credential.get_token().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(
            token.expires_on(),
            utc(&clock) - TimeDelta::seconds(1) + TimeDelta::minutes(60)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_or_malformed_token_from_the_refresher_is_an_error() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |_| jwt_at(-1)).build().unwrap();
        let err = credential.get_token().await.unwrap_err();
        assert_eq!(
            invalid_token_of(&err),
            Some(&InvalidToken::Expired {
                expires_on: anchor() - TimeDelta::seconds(1)
            })
        );
        assert!(
            err.to_string()
                .contains("the token returned from the token refresher is expired"),
            "{err}"
        );
        // Expiring exactly now is expired too.
        let credential = counting(&clock, &calls, |c| jwt_in(c, Duration::ZERO))
            .build()
            .unwrap();
        assert!(credential.get_token().await.is_err());

        let credential = counting(&clock, &calls, |_| "a.b".into()).build().unwrap();
        let err = credential.get_token().await.unwrap_err();
        assert_eq!(
            invalid_token_of(&err),
            Some(&InvalidToken::NotAJwt { parts: 2 })
        );
        assert!(
            err.to_string().contains("returned an invalid token"),
            "{err}"
        );

        // A refresher may give the expiry itself, for tokens it cannot be read from.
        let mut builder = CommunicationTokenCredential::builder(|| async {
            Ok::<_, String>(AccessToken::new("opaque", anchor() + TimeDelta::hours(1)))
        });
        builder.clock = Arc::clone(&clock);
        assert_eq!(
            builder.build().unwrap().get_token().await.unwrap().token(),
            "opaque"
        );
        let mut builder = CommunicationTokenCredential::builder(|| async {
            Ok::<_, String>(AccessToken::new("opaque", anchor()))
        });
        builder.clock = clock;
        assert!(builder.build().unwrap().get_token().await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_soon_expiring_token_is_not_refreshed_on_every_call() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |_| jwt_at(90)).build().unwrap();
        assert_eq!(credential.get_token().await.unwrap().token(), jwt_at(90));
        assert_eq!(credential.get_token().await.unwrap().token(), jwt_at(90));
        assert_eq!(calls.count(), 1);
        // After half its remaining lifetime, the next call tries again.
        sleep(Duration::from_secs(44)).await;
        credential.get_token().await.unwrap();
        assert_eq!(calls.count(), 1);
        sleep(Duration::from_secs(1)).await;
        credential.get_token().await.unwrap();
        assert_eq!(calls.times(), [0.0, 45.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_last_clone_stops_the_background_task() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let guard = Arc::new(());
        let held = Arc::clone(&guard);
        let credential = counting(&clock, &calls, move |c| {
            let _ = &held;
            jwt_in(c, minutes(11))
        })
        .initial_token(jwt_at(11 * 60))
        .refresh_proactively(true)
        .build()
        .unwrap();
        assert_eq!(alive_tasks(), 1);

        // A clone keeps the task alive.
        let clone = credential.clone();
        drop(credential);
        sleep(Duration::from_secs(61)).await;
        assert_eq!(calls.times(), [60.0]);

        drop(clone);
        sleep(minutes(60)).await;
        assert_eq!(
            calls.count(),
            1,
            "refreshed after the last clone was dropped"
        );
        assert_eq!(alive_tasks(), 0);
        assert_eq!(Arc::strong_count(&guard), 1, "the refresher is still held");
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_during_a_background_refresh_cancels_it() {
        let clock = paused_clock();
        let started = Arc::new(AtomicU32::new(0));
        let guard = Arc::new(());
        let (counter, held) = (Arc::clone(&started), Arc::clone(&guard));
        let mut builder = CommunicationTokenCredential::builder(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let held = Arc::clone(&held);
            async move {
                let _held = held;
                sleep(minutes(5)).await;
                Ok::<_, String>(jwt_at(3600))
            }
        });
        builder.clock = clock;
        // No initial token: the task fetches one at once.
        let credential = builder.refresh_proactively(true).build().unwrap();
        sleep(Duration::from_secs(1)).await;
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&guard), 3, "refresher and its future");

        drop(credential);
        sleep(Duration::from_secs(1)).await;
        assert_eq!(alive_tasks(), 0);
        assert_eq!(Arc::strong_count(&guard), 1, "the refresh was not dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn dispose_stops_the_task_and_later_calls_fail() {
        let (clock, calls) = (paused_clock(), Calls::default());
        let credential = counting(&clock, &calls, |c| jwt_in(c, minutes(60)))
            .initial_token(jwt_at(11 * 60))
            .refresh_proactively(true)
            .build()
            .unwrap();
        let clone = credential.clone();
        assert!(clone.get_token().await.is_ok());

        credential.dispose();
        sleep(minutes(60)).await;
        assert_eq!(calls.count(), 0, "refreshed after dispose");
        assert_eq!(alive_tasks(), 0);
        for c in [&credential, &clone] {
            let err = c.get_token().await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "credential failed: the credential is disposed"
            );
        }
        assert_eq!(calls.count(), 0);
        credential.dispose(); // twice is fine

        let static_credential =
            CommunicationTokenCredential::from_token(&jwt_in(&system_clock(), minutes(60)))
                .unwrap();
        static_credential.dispose();
        assert!(static_credential.get_token().await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_failure_is_retried_at_half_the_remaining_lifetime() {
        let clock = paused_clock();
        let calls = Calls::default();
        let (recorder, refresher_clock) = (calls.clone(), Arc::clone(&clock));
        let mut builder = CommunicationTokenCredential::builder(move || {
            recorder.record(&refresher_clock);
            async { Err::<String, _>("down") }
        });
        builder.clock = Arc::clone(&clock);
        let credential = builder
            .initial_token(jwt_at(20 * 60))
            .refresh_proactively(true)
            .build()
            .unwrap();
        sleep(minutes(15) + Duration::from_secs(1)).await;
        // At 10 min (exp - 10), then 5 min later (half of the 10 left).
        assert_eq!(calls.times(), [600.0, 900.0]);
        // The cached token is still returned: it is outside the window.
        assert_eq!(
            credential.get_token().await.unwrap().token(),
            jwt_at(20 * 60)
        );
    }

    #[test]
    fn proactive_refresh_needs_a_runtime() {
        let err = CommunicationTokenCredential::builder(|| async { Ok::<_, String>(jwt_at(60)) })
            .refresh_proactively(true)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidArgument {
                name: "refresh_proactively",
                ..
            }
        ));
    }

    #[test]
    fn debug_hides_the_token_and_the_types_are_shareable() {
        fn check<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
        check::<CommunicationTokenCredential>();
        let token = jwt_in(&system_clock(), minutes(60));
        let credential = CommunicationTokenCredential::from_token(&token).unwrap();
        let debug = format!("{credential:?}");
        assert!(!debug.contains(&token[..20]), "{debug}");
        assert!(
            debug.contains("***") && debug.contains("expires_on"),
            "{debug}"
        );
        let builder =
            CommunicationTokenCredential::builder(|| async { Ok::<_, String>(jwt_at(60)) })
                .initial_token(&token);
        assert!(!format!("{builder:?}").contains(&token[..20]));
    }
}
