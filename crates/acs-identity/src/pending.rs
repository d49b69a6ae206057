//! What every call shares: per-call options (a timeout, extra headers) and
//! the answer with its status and headers ([`Response`]).
//!
//! Every operation returns a call builder ([`Pending`], or
//! [`CreateUser`](crate::CreateUser), [`CreateUserAndToken`](crate::CreateUserAndToken)
//! and [`GetToken`](crate::GetToken), which have setters of their own).
//! Awaiting it gives the value; `.with_response()` first gives a
//! [`Response`] with the value, the status and the headers. Both ways send
//! the same request.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::client::{ApiFamily, IdentityClient};
use crate::credential::BoxFuture;
use crate::error::{Error, Result};
use crate::pipeline::{Call, MS_CV, X_AZURE_REF};

/// Headers a call cannot set: the pipeline's own, those the signature
/// covers, and those that frame the message.
///
/// # Examples
///
/// ```
/// assert!(acs_identity::RESERVED_HEADERS.contains(&"authorization"));
/// assert!(!acs_identity::RESERVED_HEADERS.contains(&"traceparent"));
/// ```
pub const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "date",
    "host",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-ms-client-request-id",
    "x-ms-content-sha256",
    "x-ms-date",
    "x-ms-return-client-request-id",
];

pub(crate) mod sealed {
    use super::*;

    /// The options a call builder collects before it is sent.
    #[derive(Debug, Default)]
    pub struct CallOptions {
        pub(crate) timeout: Option<Duration>,
        pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
        /// Why a header was refused: the call fails with it, unsent.
        pub(crate) refused: Option<String>,
        /// Whether the answer's headers are kept (`with_response`).
        pub(crate) keep_headers: bool,
    }

    /// A call builder: its options, and the call itself.
    pub trait Run: Sized {
        /// What the call gives.
        type Value;
        /// The call, sent.
        type Future: Future<Output = Result<Response<Self::Value>>>;
        /// The builder's options.
        fn options(&mut self) -> &mut CallOptions;
        /// Sends the call.
        fn run(self) -> Self::Future;
    }
}

pub(crate) use sealed::{CallOptions, Run};

impl CallOptions {
    pub(crate) fn add_header(&mut self, name: &str, value: &str) {
        if self.refused.is_some() {
            return;
        }
        match check_header(name, value) {
            Ok(pair) => self.headers.push(pair),
            Err(reason) => self.refused = Some(reason),
        }
    }

    /// The error for a refused header, before anything is sent.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.refused {
            Some(reason) => Err(Error::invalid("header", reason.clone())),
            None => Ok(()),
        }
    }
}

fn check_header(name: &str, value: &str) -> std::result::Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.escape_debug()))?;
    if RESERVED_HEADERS.contains(&header_name.as_str()) {
        return Err(format!(
            "`{header_name}` is set by the client itself and cannot be given per call"
        ));
    }
    // The value is not shown: it may be a secret of the app's.
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of `{header_name}` is not a valid header value"))?;
    Ok((header_name, header_value))
}

/// An answer with its HTTP status and headers: what
/// `.with_response()` on a call gives.
///
/// The headers are the service's (`MS-CV`, `X-Azure-Ref`,
/// `x-ms-client-request-id`, `Content-Type`, …); they carry none of the
/// client's secrets.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// let response = client.create_user().with_response().await?;
/// assert_eq!(response.status(), 201);
/// assert!(response.ms_cv().is_some());
/// let user = response.into_value();
/// assert!(user.id().starts_with("8:acs:"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response<T> {
    status: u16,
    headers: HeaderMap,
    value: T,
}

impl<T> Response<T> {
    /// The value of `call`'s answer, with the status and (when the call
    /// kept them) the headers.
    pub(crate) fn new(call: &Call, value: T) -> Self {
        Self {
            status: call.last_status().unwrap_or_default(),
            headers: call.take_headers(),
            value,
        }
    }

    /// The HTTP status of the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let user = client.create_user().await?;
    /// let deleted = client.delete_user(&user).with_response().await?;
    /// assert_eq!(deleted.status(), 204);
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers of the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let response = client.create_user().with_response().await?;
    /// assert!(response.headers()["content-type"].to_str()?.starts_with("application/json"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header of the answer, when it was sent as visible ASCII.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let response = client.create_user().with_response().await?;
    /// // The service echoes the call's request id.
    /// assert_eq!(response.header("x-ms-client-request-id").map(str::len), Some(36));
    /// # Ok(())
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The service's correlation vector (`MS-CV`) of the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let response = client.create_user().with_response().await?;
    /// assert!(response.ms_cv().is_some_and(|cv| cv.ends_with(".0")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn ms_cv(&self) -> Option<&str> {
        self.headers.get(&MS_CV).and_then(|v| v.to_str().ok())
    }

    /// The `X-Azure-Ref` of the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let response = client.create_user().with_response().await?;
    /// assert!(response.azure_ref().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn azure_ref(&self) -> Option<&str> {
        self.headers.get(&X_AZURE_REF).and_then(|v| v.to_str().ok())
    }

    /// The value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let response = client.create_user().with_response().await?;
    /// assert!(response.value().id().starts_with("8:acs:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The value, without the status and headers.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let user = client.create_user().with_response().await?.into_value();
    /// client.delete_user(&user).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_value(self) -> T {
        self.value
    }

    /// The status, the headers and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let (status, headers, user) = client.create_user().with_response().await?.into_parts();
    /// assert_eq!(status, 201);
    /// assert!(headers.contains_key("ms-cv"));
    /// assert!(user.id().starts_with("8:acs:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_parts(self) -> (u16, HeaderMap, T) {
        (self.status, self.headers, self.value)
    }
}

/// The future of an awaited call builder: the value of the answer.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use std::future::IntoFuture as _;
///
/// // Futures to hand elsewhere: here, two calls at once.
/// let first: acs_identity::CallFuture<'_, _> = client.create_user().into_future();
/// let (a, b) = tokio::join!(first, client.create_user().into_future());
/// assert_ne!(a?, b?);
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until awaited"]
pub struct CallFuture<'a, T>(BoxFuture<'a, Result<Response<T>>>);

impl<'a, T> CallFuture<'a, T> {
    pub(crate) fn new(inner: BoxFuture<'a, Result<Response<T>>>) -> Self {
        Self(inner)
    }
}

impl<T> Future for CallFuture<'_, T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0
            .as_mut()
            .poll(cx)
            .map(|answer| answer.map(Response::into_value))
    }
}

impl<T> std::fmt::Debug for CallFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture").finish_non_exhaustive()
    }
}

/// A call builder that gives a [`Response`] (the value, the status and the
/// headers) when awaited: what `.with_response()` makes.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::TokenScope;
///
/// let user = client.create_user().await?;
/// let issued = client.get_token(&user, [TokenScope::Chat]).with_response().await?;
/// assert_eq!(issued.status(), 200);
/// assert!(!issued.value().token().is_empty());
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until awaited"]
pub struct WithResponse<B>(B);

impl<B: Run> WithResponse<B> {
    pub(crate) fn new(mut builder: B) -> Self {
        builder.options().keep_headers = true;
        Self(builder)
    }
}

impl<B: Run> IntoFuture for WithResponse<B> {
    type Output = Result<Response<B::Value>>;
    type IntoFuture = B::Future;

    fn into_future(self) -> Self::IntoFuture {
        self.0.run()
    }
}

/// The arguments of an operation sent through [`Pending`].
pub(crate) enum Args<'a> {
    User(&'a crate::CommunicationUserIdentifier),
    TeamsUser(&'a crate::GetTokenForTeamsUserOptions),
    Text(&'a str),
    Pair(&'a str, &'a str),
    TeamsUpsert(
        &'a str,
        &'a str,
        crate::TeamsExtensionPrincipalType,
        Vec<String>,
    ),
    EntraUpsert(&'a str, crate::EntraAssignmentSpec),
    EntraBulk(Vec<(String, Option<crate::EntraAssignmentSpec>)>),
}

/// How an operation sent through [`Pending`] runs.
pub(crate) type Exec<'a, V, T> =
    fn(&'a IdentityClient<V>, Args<'a>, CallOptions) -> BoxFuture<'a, Result<Response<T>>>;

/// A call of an operation with no setters of its own (`delete_user`,
/// `revoke_tokens`, the assignments, the exchanges…): await it for the
/// value, or set per-call options, or ask for the whole [`Response`]
/// first.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use std::time::Duration;
///
/// let user = client.create_user().await?;
/// client.revoke_tokens(&user).await?;
/// let deleted = client
///     .delete_user(&user)
///     .timeout(Duration::from_secs(10))
///     .header("x-app-correlation-id", "order-1234")
///     .with_response()
///     .await?;
/// assert_eq!(deleted.status(), 204);
/// # Ok(())
/// # }
/// ```
///
/// It is a `Future` itself (nothing is sent before it is first polled), so
/// it goes wherever the `async fn`s it replaced went: `tokio::spawn` of an
/// owned client's call, `join!`, a function taking `impl Future`.
#[must_use = "a request does nothing until awaited"]
pub struct Pending<'a, V: ApiFamily, T> {
    client: &'a IdentityClient<V>,
    args: Option<Args<'a>>,
    exec: Exec<'a, V, T>,
    options: CallOptions,
    running: Option<BoxFuture<'a, Result<Response<T>>>>,
}

impl<'a, V: ApiFamily, T> Pending<'a, V, T> {
    pub(crate) fn new(client: &'a IdentityClient<V>, args: Args<'a>, exec: Exec<'a, V, T>) -> Self {
        Self {
            client,
            args: Some(args),
            exec,
            options: CallOptions::default(),
            running: None,
        }
    }
}

impl<'a, V: ApiFamily, T> Run for Pending<'a, V, T> {
    type Value = T;
    type Future = BoxFuture<'a, Result<Response<T>>>;

    fn options(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    fn run(mut self) -> Self::Future {
        match (self.running.take(), self.args.take()) {
            (Some(running), _) => running,
            (None, Some(args)) => (self.exec)(self.client, args, self.options),
            (None, None) => unreachable!("a call runs once"),
        }
    }
}

impl<V: ApiFamily, T> Future for Pending<'_, V, T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.running.is_none() {
            let args = this.args.take().expect("polled after it finished");
            let options = std::mem::take(&mut this.options);
            this.running = Some((this.exec)(this.client, args, options));
        }
        let running = this.running.as_mut().expect("set above");
        running
            .as_mut()
            .poll(cx)
            .map(|answer| answer.map(Response::into_value))
    }
}

/// The per-call setters and `IntoFuture` of a call builder that implements
/// [`Run`] with `Future = BoxFuture<'a, _>`: `$example` is a doc example
/// body (with `client` and `user` in scope) calling the builder as `CALL`.
macro_rules! call_builder {
    ($ty:ident<$lt:lifetime, V $(, $t:ident)?>, $value:ty, $call:literal) => {
        $crate::pending::call_builder!(@setters $ty<$lt, V $(, $t)?>, $call);

        impl<$lt, V: $crate::client::ApiFamily $(, $t)?> std::future::IntoFuture for $ty<$lt, V $(, $t)?> {
            type Output = $crate::error::Result<$value>;
            type IntoFuture = $crate::pending::CallFuture<$lt, $value>;

            fn into_future(self) -> Self::IntoFuture {
                $crate::pending::CallFuture::new($crate::pending::Run::run(self))
            }
        }
    };
    (@setters $ty:ident<$lt:lifetime, V $(, $t:ident)?>, $call:literal) => {
        impl<$lt, V: $crate::client::ApiFamily $(, $t)?> $ty<$lt, V $(, $t)?> {
            /// The longest this call may take, all attempts and waits
            /// between them included. It replaces the client's
            /// [`deadline`](crate::ClientBuilder::deadline) for this call;
            /// each attempt is still bounded by the client's
            /// [`per_try_timeout`](crate::ClientBuilder::per_try_timeout).
            /// When it passes, the call fails with
            /// [`Error::Timeout`](crate::Error::Timeout).
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
            /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
            /// # let user = client.create_user().await?;
            /// use std::time::Duration;
            ///
            #[doc = concat!("let answer = ", $call, ".timeout(Duration::from_secs(5)).await;")]
            /// # drop(answer);
            /// # Ok(())
            /// # }
            /// ```
            pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
                $crate::pending::Run::options(&mut self).timeout = Some(timeout);
                self
            }

            /// Adds a header to every attempt of this call (a trace or
            /// correlation id of the app's own, say). The client's own
            /// headers cannot be replaced: a name in
            /// [`RESERVED_HEADERS`](crate::RESERVED_HEADERS) (`authorization`,
            /// `x-ms-date`, `host`, `x-ms-client-request-id`, `user-agent`, …),
            /// a name that is not a header name or a value that is not a
            /// header value makes the call fail with
            /// [`Error::InvalidArgument`](crate::Error::InvalidArgument)
            /// (`"header"`) before anything is sent. Giving a name twice
            /// sends it twice.
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
            /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
            /// # let user = client.create_user().await?;
            /// use acs_identity::Error;
            ///
            #[doc = concat!("let answer = ", $call, ".header(\"x-app-trace\", \"42\").await;")]
            /// # drop(answer);
            #[doc = concat!("let refused = ", $call, ".header(\"Authorization\", \"Bearer x\").await;")]
            /// assert!(matches!(refused, Err(Error::InvalidArgument { name: "header", .. })));
            /// # Ok(())
            /// # }
            /// ```
            pub fn header(mut self, name: &str, value: &str) -> Self {
                $crate::pending::Run::options(&mut self).add_header(name, value);
                self
            }

            /// Makes the call give a [`Response`](crate::Response): the
            /// value with the answer's status and headers.
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
            /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
            /// # let user = client.create_user().await?;
            #[doc = concat!("let response = ", $call, ".with_response().await;")]
            /// # let response = response.ok();
            /// if let Some(response) = response {
            ///     assert!((200..300).contains(&response.status()));
            /// }
            /// # Ok(())
            /// # }
            /// ```
            pub fn with_response(self) -> $crate::pending::WithResponse<Self> {
                $crate::pending::WithResponse::new(self)
            }
        }
    };
}

pub(crate) use call_builder;

// `Pending` is a `Future` itself: setters only.
call_builder!(@setters Pending<'a, V, T>, "client.revoke_tokens(&user)");

/// A value of an answer to `call`, with what `with_response` needs.
pub(crate) fn respond<T>(call: &Arc<Call>, value: T) -> Result<Response<T>> {
    Ok(Response::new(call, value))
}
