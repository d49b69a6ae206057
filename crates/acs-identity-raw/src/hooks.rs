//! The seam between the generated clients and the code that sends requests.
//!
//! Every generated operation builds its `reqwest::Request` and hands it to
//! `ClientHooks::exec`, implemented here for each api-version's `Client`
//! (the generated module invokes `wire_hooks!`; the impl has to live in
//! this crate because of the orphan rule). `exec` does two things to make
//! the request exactly what the spec describes, then passes it on:
//!
//! 1. It removes the `api-version` header progenitor adds to every request:
//!    the service reads the `api-version` query parameter, which the
//!    generated code already sets.
//! 2. It sets the content type the spec names where it is not
//!    `application/json` (the merge-patch body of `update_entra_assignments`);
//!    progenitor writes every body as JSON.
//!
//! Then, with a [`Transport`] in the client's [`Inner`], the transport sends
//! the request (this is where `acs-identity` signs and retries); without one,
//! the request goes straight to `reqwest`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, `Send` future, as returned by [`Transport::execute`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends the requests of a generated client.
///
/// Implement it to sign, retry or record requests, and put it in the
/// client's [`Inner`] with [`Inner::with_transport`].
///
/// # Examples
///
/// ```
/// use acs_identity_raw::{BoxFuture, Inner, Transport};
/// use std::sync::Arc;
///
/// #[derive(Debug)]
/// struct Plain;
///
/// impl Transport for Plain {
///     fn execute<'a>(
///         &'a self,
///         client: &'a reqwest::Client,
///         request: reqwest::Request,
///         _operation_id: &'static str,
///     ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
///         Box::pin(client.execute(request))
///     }
/// }
///
/// let client = acs_identity_raw::v2025_06_30::Client::new(
///     "https://my-resource.communication.azure.com",
///     Inner::with_transport(Arc::new(Plain)),
/// );
/// # let _ = client;
/// ```
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` (final: method, URL with query, headers and body are
    /// set) for the operation named `operation_id` (the generated method's
    /// name), using `client`'s connection pool.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// The value every generated `Client` carries: an optional [`Transport`].
#[derive(Clone, Debug, Default)]
pub struct Inner {
    transport: Option<Arc<dyn Transport>>,
}

impl Inner {
    /// Requests go straight to `reqwest`, unsigned.
    pub fn plain() -> Self {
        Self::default()
    }

    /// Requests go through `transport`.
    pub fn with_transport(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport: Some(transport),
        }
    }

    /// The transport, if any.
    pub fn transport(&self) -> Option<&Arc<dyn Transport>> {
        self.transport.as_ref()
    }
}

/// The body of every generated `ClientHooks::exec`; see the module docs.
#[doc(hidden)]
pub async fn exec(
    client: &reqwest::Client,
    inner: &Inner,
    mut request: reqwest::Request,
    operation_id: &'static str,
    content_types: &[(&str, &'static str)],
) -> reqwest::Result<reqwest::Response> {
    static API_VERSION: reqwest::header::HeaderName =
        reqwest::header::HeaderName::from_static("api-version");
    request.headers_mut().remove(&API_VERSION);
    if let Some((_, content_type)) = content_types.iter().find(|(op, _)| *op == operation_id) {
        request.headers_mut().insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static(content_type),
        );
    }
    match &inner.transport {
        Some(transport) => transport.execute(client, request, operation_id).await,
        None => client.execute(request).await,
    }
}

/// Implements `ClientHooks` for the `Client` of the module it is invoked in;
/// the module must define `REQUEST_CONTENT_TYPES`.
macro_rules! wire_hooks {
    () => {
        impl ::progenitor_client::ClientHooks<crate::Inner> for Client {
            async fn exec(
                &self,
                request: ::reqwest::Request,
                info: &::progenitor_client::OperationInfo,
            ) -> ::reqwest::Result<::reqwest::Response> {
                crate::hooks::exec(
                    ::progenitor_client::ClientInfo::client(self),
                    ::progenitor_client::ClientInfo::inner(self),
                    request,
                    info.operation_id,
                    REQUEST_CONTENT_TYPES,
                )
                .await
            }
        }
    };
}
pub(crate) use wire_hooks;
