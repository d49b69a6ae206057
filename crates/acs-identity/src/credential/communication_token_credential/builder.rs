//! [`CommunicationTokenCredentialBuilder`]: the options of a credential
//! with a refresher, and starting it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::pipeline::Clock;

use super::flight::{Shared, State};
use super::proactive::{proactive_refresh, schedule};
use super::refreshed_token::parse_argument;
use super::{CommunicationTokenCredential, Handle, Refresher, delta, utc};

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
    pub(super) refresher: Refresher,
    pub(super) initial_token: Option<String>,
    pub(super) refresh_window: Duration,
    pub(super) refresh_proactively: bool,
    pub(super) proactive_margin: Duration,
    pub(super) clock: Clock,
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
    /// ([`InvalidToken`](crate::InvalidToken) is the source); [`Error::InvalidArgument`] when
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
