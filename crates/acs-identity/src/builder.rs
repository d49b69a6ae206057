//! Building a client: endpoint, credential, api-version and transport options.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use url::Url;

use crate::client::{CommunicationIdentityClient, Core};
use crate::connection_string::{ConnectionString, parse_endpoint};
use crate::credential::{AccessKey, TokenCache, TokenCredential};
use crate::error::{Error, Result};
use crate::pipeline::{Auth, Clock, Pipeline, user_agent};
use crate::preview;
use crate::retry::RetryOptions;
use crate::version;

/// Options for a [`CommunicationIdentityClient`] (or a
/// [`preview::CommunicationIdentityClient`]).
///
/// # Examples
///
/// ```
/// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions};
/// use std::time::Duration;
///
/// let client = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
///     .access_key(AccessKey::new("c2VjcmV0")?)
///     .api_version("2023-10-01")
///     .retry(RetryOptions::default().max_retries(5))
///     .per_try_timeout(Duration::from_secs(10))
///     .deadline(Duration::from_secs(60))
///     .application_id("my-token-service")
///     .build()?;
/// assert_eq!(client.api_version(), "2023-10-01");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    endpoint: String,
    auth: Option<Credential>,
    api_version: Option<String>,
    retry: RetryOptions,
    per_try_timeout: Option<Duration>,
    deadline: Option<Duration>,
    http: Option<reqwest::Client>,
    application_id: Option<String>,
    clock: Option<Clock>,
}

#[derive(Clone)]
enum Credential {
    Key(AccessKey),
    Token(Arc<dyn TokenCredential>),
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field(
                "auth",
                &match &self.auth {
                    Some(Credential::Key(_)) => "access key",
                    Some(Credential::Token(_)) => "token credential",
                    None => "none",
                },
            )
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .field("per_try_timeout", &self.per_try_timeout)
            .field("deadline", &self.deadline)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            auth: None,
            api_version: None,
            retry: RetryOptions::default(),
            per_try_timeout: Some(Duration::from_secs(30)),
            deadline: None,
            http: None,
            application_id: None,
            clock: None,
        }
    }

    pub(crate) fn from_connection_string(s: &str) -> Result<Self> {
        let (endpoint, key) = ConnectionString::parse(s)?.into_parts();
        Ok(Self::new(endpoint.as_str()).access_key(key))
    }

    /// Authenticate with the resource's access key (HMAC-SHA256).
    pub fn access_key(mut self, key: AccessKey) -> Self {
        self.auth = Some(Credential::Key(key));
        self
    }

    /// Authenticate with Entra ID bearer tokens from `credential` (scope
    /// `https://communication.azure.com//.default`), cached until shortly
    /// before they expire.
    pub fn token_credential(mut self, credential: impl TokenCredential + 'static) -> Self {
        self.auth = Some(Credential::Token(Arc::new(credential)));
        self
    }

    /// The api-version to send (default: 2025-06-30 for the stable client,
    /// 2025-03-02-preview for the preview client).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Retry settings (default: 3 retries, 0.8 s exponential backoff, 60 s cap).
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }

    /// Time limit for each try, connect to last body byte (default 30 s).
    pub fn per_try_timeout(mut self, timeout: Duration) -> Self {
        self.per_try_timeout = Some(timeout);
        self
    }

    /// Time limit for a whole call, retries and waits included (default: none).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Use this `reqwest::Client` (and its connection pool, proxy and TLS
    /// settings) instead of a new one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// An application id put before the `User-Agent` (at most 24 characters,
    /// no spaces).
    pub fn application_id(mut self, id: impl Into<String>) -> Self {
        self.application_id = Some(id.into());
        self
    }

    /// The clock used for `x-ms-date` and `Retry-After` dates (default: the
    /// system clock). Meant for tests.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the stable client.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad endpoint, a missing credential, a
    /// preview or malformed api-version, or a bad application id.
    pub fn build(self) -> Result<CommunicationIdentityClient> {
        let version = self
            .api_version
            .clone()
            .unwrap_or_else(|| version::STABLE_DEFAULT.into());
        version::check(&version, false)?;
        Ok(CommunicationIdentityClient::from_core(self.core(version)?))
    }

    /// Builds the preview client.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and a stable api-version is refused.
    pub fn build_preview(self) -> Result<preview::CommunicationIdentityClient> {
        let version = self
            .api_version
            .clone()
            .unwrap_or_else(|| version::PREVIEW_DEFAULT.into());
        version::check(&version, true)?;
        Ok(preview::CommunicationIdentityClient::from_core(
            self.core(version)?,
        ))
    }

    fn core(self, api_version: String) -> Result<Core> {
        let endpoint: Url = parse_endpoint(&self.endpoint)
            .map_err(|e| Error::invalid("endpoint", e.to_string()))?;
        let auth = match self.auth {
            Some(Credential::Key(key)) => Auth::Key(key),
            Some(Credential::Token(credential)) => Auth::Token(TokenCache::new(credential)),
            None => {
                return Err(Error::invalid(
                    "credential",
                    "give an access key or a token credential",
                ));
            }
        };
        if let Some(app) = &self.application_id {
            let ok = !app.is_empty()
                && app.len() <= 24
                && app
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !ok {
                return Err(Error::invalid(
                    "application_id",
                    "at most 24 characters: letters, digits and !#$%&'*+-.^_`|~",
                ));
            }
        }
        let user_agent = HeaderValue::from_str(&user_agent(self.application_id.as_deref()))
            .map_err(|_| Error::invalid("application_id", "not a valid header value"))?;
        let pipeline = Arc::new(Pipeline {
            auth,
            retry: self.retry,
            per_try_timeout: self.per_try_timeout,
            deadline: self.deadline,
            user_agent,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
        });
        let http = match self.http {
            Some(http) => http,
            // A signed call is never followed elsewhere: a redirect is an
            // unexpected status.
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::invalid(
                        "http_client",
                        format!("could not build a reqwest client: {e}"),
                    )
                })?,
        };
        Ok(Core::new(endpoint, api_version, http, pipeline))
    }
}
