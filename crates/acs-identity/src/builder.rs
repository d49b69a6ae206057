//! Building a client: endpoint, credential, api-version and transport options.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use url::Url;

use crate::client::{CommunicationIdentityClient, IdentityClient, Preview, Shared, Stable};
use crate::connection_string::{ConnectionString, parse_endpoint};
use crate::credential::{AccessKey, Auth, TokenCache, TokenCredential};
use crate::error::{Error, Result};
use crate::pipeline::{Clock, Pipeline, user_agent};
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
    auth: Option<Auth>,
    api_version: Option<String>,
    retry: RetryOptions,
    per_try_timeout: Option<Duration>,
    deadline: Option<Duration>,
    http: Option<reqwest::Client>,
    application_id: Option<String>,
    clock: Option<Clock>,
    allow_insecure_http: bool,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field(
                "auth",
                &match &self.auth {
                    Some(Auth::Key(_)) => "access key",
                    Some(Auth::Token(_)) => "token credential",
                    None => "none",
                },
            )
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .field("per_try_timeout", &self.per_try_timeout)
            .field("deadline", &self.deadline)
            .field("application_id", &self.application_id)
            .field("allow_insecure_http", &self.allow_insecure_http)
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
            allow_insecure_http: false,
        }
    }

    pub(crate) fn from_connection_string(s: &str) -> Result<Self> {
        let (endpoint, key) = ConnectionString::parse(s)?.into_parts();
        Ok(Self::new(endpoint.as_str()).access_key(key))
    }

    /// Authenticate with the resource's access key (HMAC-SHA256).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// // The endpoint and key of the resource, from the portal.
    /// let key = AccessKey::new(emulator.access_key())?;
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(key)
    ///     .build()?;
    /// assert!(client.create_user().await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn access_key(mut self, key: AccessKey) -> Self {
        self.auth = Some(Auth::Key(key));
        self
    }

    /// Authenticate with Entra ID bearer tokens from `credential` (scope
    /// `https://communication.azure.com//.default`), cached until shortly
    /// before they expire.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # // A token the emulator verifies (HS256, aud https://communication.azure.com).
    /// # let jwt = emulator.management_token();
    /// use acs_identity::{BoxFuture, CommunicationIdentityClient, CredentialError, EntraToken, TokenCredential};
    /// use std::time::{Duration, SystemTime};
    ///
    /// #[derive(Debug)]
    /// struct MyCredential { jwt: String } // in an app: a managed identity, Azure CLI, …
    ///
    /// impl TokenCredential for MyCredential {
    ///     fn get_token<'a>(&'a self, _scopes: &'a [&'a str]) -> BoxFuture<'a, Result<EntraToken, CredentialError>> {
    ///         let expires_on = SystemTime::now() + Duration::from_secs(3600);
    ///         Box::pin(async move { Ok(EntraToken::new(self.jwt.clone(), expires_on)) })
    ///     }
    /// }
    ///
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .token_credential(MyCredential { jwt })
    ///     .build()?;
    /// assert!(client.create_user().await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn token_credential(mut self, credential: impl TokenCredential + 'static) -> Self {
        self.auth = Some(Auth::Token(TokenCache::new(Arc::new(credential))));
        self
    }

    /// The api-version to send (default: 2025-06-30 for the stable client,
    /// 2025-03-02-preview for the preview client).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .api_version("2023-10-01");
    /// assert_eq!(builder.build()?.api_version(), "2023-10-01");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Retry settings (default: 3 retries, 0.8 s exponential backoff, 60 s cap).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions};
    /// use std::time::Duration;
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .retry(RetryOptions::default().max_retries(5).initial_delay(Duration::from_millis(500)));
    /// let client = builder.build()?;
    /// # assert_eq!(client.api_version(), "2025-06-30");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }

    /// Time limit for each try, connect to last body byte (default 30 s).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("latency=2s".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, Error, RetryOptions};
    /// use std::time::Duration;
    ///
    /// // A service that takes 2 s to answer.
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .per_try_timeout(Duration::from_millis(200))
    ///     .retry(RetryOptions::none())
    ///     .build()?;
    /// let err = client.create_user().await.unwrap_err();
    /// assert!(matches!(err, Error::Timeout { attempts: 1, .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn per_try_timeout(mut self, timeout: Duration) -> Self {
        self.per_try_timeout = Some(timeout);
        self
    }

    /// Time limit for a whole call, retries and waits included (default: none).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # emulator.set_faults("503".parse()?);
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, RetryOptions, TokenScope};
    /// use std::time::{Duration, Instant};
    ///
    /// // A service that keeps answering 503: retries stop when the deadline is near.
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .retry(RetryOptions::default().max_retries(100).initial_delay(Duration::from_millis(50)))
    ///     .deadline(Duration::from_secs(1))
    ///     .build()?;
    /// let started = Instant::now();
    /// let user = "8:acs:resource_user".parse()?;
    /// let err = client.get_token(&user, [TokenScope::Chat]).await.unwrap_err();
    /// assert_eq!(err.status(), Some(503));
    /// assert!(started.elapsed() < Duration::from_secs(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Use this `reqwest::Client` (and its connection pool, proxy and TLS
    /// settings) instead of a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    /// use std::time::Duration;
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .http_client(
    ///         reqwest::Client::builder()
    ///             .connect_timeout(Duration::from_secs(5))
    ///             .redirect(reqwest::redirect::Policy::none())
    ///             .build()?,
    ///     );
    /// let client = builder.build()?;
    /// # assert_eq!(client.api_version(), "2025-06-30");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// An application id put before the `User-Agent` (at most 24 characters,
    /// no spaces).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .application_id("my-token-service");
    /// assert!(builder.build().is_ok());
    ///
    /// let spaces = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .application_id("an application id with spaces");
    /// assert!(spaces.build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn application_id(mut self, id: impl Into<String>) -> Self {
        self.application_id = Some(id.into());
        self
    }

    /// The clock used for `x-ms-date` and `Retry-After` dates (default: the
    /// system clock). Meant for tests.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    /// use std::time::{Duration, SystemTime};
    ///
    /// // The service refuses requests dated more than 15 minutes off.
    /// let slow_clock = || SystemTime::now() - Duration::from_secs(20 * 60);
    /// let client = CommunicationIdentityClient::builder(&emulator.endpoint())
    ///     .access_key(AccessKey::new(emulator.access_key())?)
    ///     .clock(slow_clock)
    ///     .build()?;
    /// let err = client.create_user().await.unwrap_err();
    /// assert_eq!(err.status(), Some(401));
    /// # Ok(())
    /// # }
    /// ```
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Allow a plain `http://` endpoint on a host other than this machine
    /// (default: refused). Over plain http the requests' signatures (which
    /// the service accepts for 15 minutes) and the tokens in the answers can
    /// be read and replayed by anyone on the path. Loopback endpoints
    /// (`127.0.0.0/8`, `::1`, `localhost`), where the emulator runs, are
    /// always allowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient, Error};
    ///
    /// let builder = CommunicationIdentityClient::builder("http://192.0.2.2:8080")
    ///     .access_key(AccessKey::new("c2VjcmV0")?);
    /// assert!(matches!(builder.clone().build(), Err(Error::InsecureEndpoint { .. })));
    /// // An emulator on another machine of a trusted test network:
    /// assert!(builder.allow_insecure_http(true).build().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the stable client.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad endpoint, a missing credential, a
    /// preview or malformed api-version, or a bad application id;
    /// [`Error::InsecureEndpoint`] for plain http to a host that is not
    /// loopback (see [`allow_insecure_http`](Self::allow_insecure_http)).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com");
    /// assert!(builder.clone().build().is_err(), "no credential");
    /// let client = builder.access_key(AccessKey::new("c2VjcmV0")?).build()?;
    /// assert_eq!(client.api_version(), acs_identity::STABLE_DEFAULT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<CommunicationIdentityClient> {
        let version = self
            .api_version
            .clone()
            .unwrap_or_else(|| version::STABLE_DEFAULT.into());
        version::check(&version, false)?;
        Ok(IdentityClient::new(self.shared(version)?))
    }

    /// Builds the preview client.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and a stable api-version is refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// let builder = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?);
    /// let preview = builder.clone().build_preview()?;
    /// assert_eq!(preview.api_version(), acs_identity::PREVIEW_DEFAULT);
    /// assert!(builder.api_version("2025-06-30").build_preview().is_err(), "a stable version");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_preview(self) -> Result<preview::CommunicationIdentityClient> {
        let version = self
            .api_version
            .clone()
            .unwrap_or_else(|| version::PREVIEW_DEFAULT.into());
        version::check(&version, true)?;
        Ok(IdentityClient::new(self.shared(version)?))
    }

    fn shared(self, api_version: String) -> Result<Shared> {
        let endpoint: Url = parse_endpoint(&self.endpoint)
            .map_err(|e| Error::invalid("endpoint", e.to_string()))?;
        if endpoint.scheme() == "https" && self.http.is_none() && !crate::tls::HAS_TLS {
            return Err(Error::invalid(
                "endpoint",
                "https needs TLS: enable one of the features rustls-ring, rustls-aws-lc or native-tls",
            ));
        }
        if endpoint.scheme() == "http" && !self.allow_insecure_http && !is_loopback(&endpoint) {
            return Err(Error::InsecureEndpoint {
                host: endpoint.host_str().unwrap_or_default().to_owned(),
            });
        }
        let auth = match self.auth {
            Some(auth) => auth,
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
            None => crate::tls::default_http_client().map_err(|e| {
                Error::invalid(
                    "http_client",
                    format!("could not build a reqwest client: {e}"),
                )
            })?,
        };
        Ok(Shared {
            base: endpoint.as_str().trim_end_matches('/').to_owned(),
            endpoint,
            api_version,
            http,
            pipeline,
        })
    }
}

/// Whether `url` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl IdentityClient<Stable> {
    /// A stable client from a connection string
    /// (`endpoint=https://…;accesskey=…`), with default options.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionString`] when the string does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentityClient;
    ///
    /// let client = CommunicationIdentityClient::from_connection_string(
    ///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
    /// )?;
    /// assert_eq!(client.endpoint().as_str(), "https://my-resource.communication.azure.com/");
    ///
    /// let missing_key = "endpoint=https://my-resource.communication.azure.com/";
    /// assert!(CommunicationIdentityClient::from_connection_string(missing_key).is_err());
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn from_connection_string(connection_string: &str) -> Result<Self> {
        ClientBuilder::from_connection_string(connection_string)?.build()
    }

    /// A builder for a client of the resource at `endpoint`; give it a
    /// credential, then [`build`](ClientBuilder::build) (stable) or
    /// [`build_preview`](ClientBuilder::build_preview).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, CommunicationIdentityClient};
    ///
    /// let client = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .build()?;
    /// assert_eq!(client.api_version(), "2025-06-30");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(endpoint: &str) -> ClientBuilder {
        ClientBuilder::new(endpoint)
    }

    /// A builder from a connection string, for setting further options.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionString`] when the string does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{CommunicationIdentityClient, RetryOptions};
    ///
    /// let client = CommunicationIdentityClient::builder_from_connection_string(
    ///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
    /// )?
    /// .retry(RetryOptions::none())
    /// .api_version("2023-10-01")
    /// .build()?;
    /// assert_eq!(client.api_version(), "2023-10-01");
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn builder_from_connection_string(connection_string: &str) -> Result<ClientBuilder> {
        ClientBuilder::from_connection_string(connection_string)
    }
}

impl IdentityClient<Preview> {
    /// A preview client from a connection string, with default options.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionString`] when the string does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::preview::CommunicationIdentityClient;
    ///
    /// let client = CommunicationIdentityClient::from_connection_string(
    ///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
    /// )?;
    /// assert_eq!(client.api_version(), "2025-03-02-preview");
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn from_connection_string(connection_string: &str) -> Result<Self> {
        ClientBuilder::from_connection_string(connection_string)?.build_preview()
    }

    /// A builder for a preview client of the resource at `endpoint`; finish
    /// it with [`build_preview`](ClientBuilder::build_preview).
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::{AccessKey, preview::CommunicationIdentityClient};
    ///
    /// let client = CommunicationIdentityClient::builder("https://my-resource.communication.azure.com")
    ///     .access_key(AccessKey::new("c2VjcmV0")?)
    ///     .build_preview()?;
    /// assert_eq!(client.api_version(), "2025-03-02-preview");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(endpoint: &str) -> ClientBuilder {
        ClientBuilder::new(endpoint)
    }
}
