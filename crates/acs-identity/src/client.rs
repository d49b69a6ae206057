//! The client and its operations.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use acs_identity_raw as raw;
use progenitor_client::ResponseValue;
use url::Url;

use crate::assignment::{TeamsExtensionAssignment, TeamsExtensionPrincipalType, Upserted};
use crate::builder::ClientBuilder;
use crate::convert::{self, ErrorBody, require_token};
use crate::credential::BoxFuture;
use crate::entra_claims::EntraTokenClaims;
use crate::error::{DecodeError, Error, Result};
use crate::identifier::CommunicationUserIdentifier;
use crate::pipeline::{Auth, CALL, Call, Pipeline};
use crate::retry::Idempotency;
use crate::scope::TokenScope;
use crate::token::{AccessToken, CommunicationUserAndToken, lifetime_minutes};

/// A client for the Communication Services Identity API.
///
/// [`CommunicationIdentityClient`] (`IdentityClient<Stable>`) sends a stable
/// api-version (2025-06-30 unless pinned to an older one);
/// [`preview::CommunicationIdentityClient`](crate::preview::CommunicationIdentityClient)
/// sends 2025-03-02-preview and adds the preview-only operations, so calling
/// one of those on a stable client does not compile.
///
/// The client is cheap to clone (an `Arc` inside), `Send + Sync`, and shares
/// one connection pool between clones. Every call is signed (or carries a
/// bearer token) and retried per [`RetryOptions`](crate::RetryOptions):
///
/// | operation | retried after the request may have reached the service |
/// |---|---|
/// | `create_user`, `create_user_and_token` without custom id | no: only connect failures, 408, 429 and 503 are retried, since a second create would make a second user |
/// | every other operation (and creates with a custom id) | yes: 408, 429, 500, 502, 503, 504, timeouts and broken connections |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let connection_string = emulator.connection_string();
/// use acs_identity::{CommunicationIdentityClient, TokenScope};
/// use std::time::Duration;
///
/// // endpoint=https://<resource>.communication.azure.com/;accesskey=<key>
/// let client = CommunicationIdentityClient::from_connection_string(&connection_string)?;
/// let user = client.create_user().await?;
/// let token = client
///     .get_token(&user, [TokenScope::Chat, TokenScope::Voip])
///     .expires_in(Duration::from_secs(3600))
///     .await?;
/// println!("{user} gets a token valid until {}", token.expires_on());
/// client.delete_user(&user).await?;
/// # assert!(!emulator.is_token_valid(token.token()));
/// # Ok(())
/// # }
/// ```
pub struct IdentityClient<V: ApiFamily> {
    inner: Arc<Inner<V>>,
}

/// The client pinned to a stable api-version: see [`IdentityClient`].
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, STABLE_DEFAULT};
///
/// let client = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert_eq!(client.api_version(), STABLE_DEFAULT);
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub type CommunicationIdentityClient = IdentityClient<Stable>;

struct Inner<V: ApiFamily> {
    core: Core,
    raw: V::Raw,
}

impl<V: ApiFamily> Clone for IdentityClient<V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V: ApiFamily> fmt::Debug for IdentityClient<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClient")
            .field("endpoint", &self.inner.core.endpoint.as_str())
            .field("api_version", &self.inner.core.api_version)
            .field("pipeline", &self.inner.core.pipeline)
            .finish()
    }
}

/// The stable api-versions (the default type parameter of
/// [`CommunicationIdentityClient`]).
///
/// # Examples
///
/// ```
/// use acs_identity::{CommunicationIdentityClient, IdentityClient, Stable};
///
/// let client: IdentityClient<Stable> = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert!(!client.api_version().ends_with("-preview"));
/// # Ok::<(), acs_identity::Error>(())
/// ```
#[derive(Debug)]
pub enum Stable {}

/// The preview api-versions; see [`crate::preview`].
///
/// # Examples
///
/// ```
/// use acs_identity::IdentityClient;
/// use acs_identity::preview::{CommunicationIdentityClient, Preview};
///
/// let client: IdentityClient<Preview> = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert!(client.api_version().ends_with("-preview"));
/// # Ok::<(), acs_identity::Error>(())
/// ```
#[derive(Debug)]
pub enum Preview {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Stable {}
    impl Sealed for super::Preview {}
}

/// The operations every api-version family has, over its generated client.
/// Sealed: implemented by [`Stable`] and [`Preview`] only.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let connection_string = emulator.connection_string();
/// use acs_identity::{ApiFamily, CommunicationUserAndToken, IdentityClient, Result, TokenScope};
///
/// // Code written once for the stable and the preview client.
/// async fn chat_user<V: ApiFamily>(client: &IdentityClient<V>) -> Result<CommunicationUserAndToken> {
///     client.create_user_and_token([TokenScope::Chat]).await
/// }
///
/// let stable = acs_identity::CommunicationIdentityClient::from_connection_string(&connection_string)?;
/// let preview = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&connection_string)?;
/// assert_ne!(chat_user(&stable).await?.user, chat_user(&preview).await?.user);
/// # Ok(())
/// # }
/// ```
pub trait ApiFamily: sealed::Sealed + Send + Sync + fmt::Debug + 'static {
    #[doc(hidden)]
    type Raw: Send + Sync + fmt::Debug + Clone + 'static;
    #[doc(hidden)]
    fn new_raw(base: &str, http: reqwest::Client, inner: raw::Inner) -> Self::Raw;
    #[doc(hidden)]
    fn create<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        args: CreateArgs,
    ) -> impl Future<Output = Result<Created>> + Send + 'a;
    #[doc(hidden)]
    fn issue_token<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        user: &'a str,
        scopes: &'a [TokenScope],
        minutes: Option<i32>,
    ) -> impl Future<Output = Result<AccessToken>> + Send + 'a;
    #[doc(hidden)]
    fn revoke_tokens<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        user: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a;
    #[doc(hidden)]
    fn delete_user<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        user: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a;
    #[doc(hidden)]
    fn teams_user_token<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        options: &'a GetTokenForTeamsUserOptions,
    ) -> impl Future<Output = Result<AccessToken>> + Send + 'a;
    #[doc(hidden)]
    fn teams_extension_token<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        entra_token: &'a str,
    ) -> impl Future<Output = Result<CommunicationUserAndToken>> + Send + 'a;
    #[doc(hidden)]
    fn get_teams_extension_assignment<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        tenant_id: &'a str,
        object_id: &'a str,
    ) -> impl Future<Output = Result<TeamsExtensionAssignment>> + Send + 'a;
    #[doc(hidden)]
    fn upsert_teams_extension_assignment<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        tenant_id: &'a str,
        object_id: &'a str,
        principal_type: &'a TeamsExtensionPrincipalType,
        client_ids: &'a [String],
    ) -> impl Future<Output = Result<Upserted<TeamsExtensionAssignment>>> + Send + 'a;
    #[doc(hidden)]
    fn delete_teams_extension_assignment<'a>(
        raw: &'a Self::Raw,
        core: &'a Core,
        tenant_id: &'a str,
        object_id: &'a str,
    ) -> impl Future<Output = Result<()>> + Send + 'a;
}

/// What a create call returned: the user, its token if one was issued,
/// the status and the call.
#[doc(hidden)]
pub struct Created {
    pub(crate) user: CommunicationUserIdentifier,
    pub(crate) token: Option<AccessToken>,
    pub(crate) status: u16,
    pub(crate) call: Arc<Call>,
}

/// The inputs of a create call.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct CreateArgs {
    pub(crate) scopes: Vec<TokenScope>,
    pub(crate) minutes: Option<i32>,
    pub(crate) custom_id: Option<String>,
}

/// What every operation needs besides its generated client.
#[doc(hidden)]
pub struct Core {
    pub(crate) endpoint: Url,
    pub(crate) api_version: String,
    pub(crate) http: reqwest::Client,
    pub(crate) pipeline: Arc<Pipeline>,
}

impl Core {
    pub(crate) fn new(
        endpoint: Url,
        api_version: String,
        http: reqwest::Client,
        pipeline: Arc<Pipeline>,
    ) -> Self {
        Self {
            endpoint,
            api_version,
            http,
            pipeline,
        }
    }

    /// The endpoint without a trailing `/`, as the generated clients want it.
    pub(crate) fn base(&self) -> String {
        self.endpoint.as_str().trim_end_matches('/').to_string()
    }

    /// Runs one logical call of a generated operation: fetches the Entra
    /// token when the client uses one, sets the call's context for the
    /// pipeline, and maps errors.
    pub(crate) async fn run<T, E, Fut>(
        &self,
        idempotency: Idempotency,
        bearer: Option<&str>,
        operation: impl FnOnce() -> Fut,
    ) -> Result<(ResponseValue<T>, Arc<Call>)>
    where
        E: ErrorBody,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        let call = self.call(idempotency, bearer).await?;
        match CALL.scope(Arc::clone(&call), operation()).await {
            Ok(response) => Ok((response, call)),
            Err(err) => Err(convert::error(err, &call).await),
        }
    }

    pub(crate) async fn call(
        &self,
        idempotency: Idempotency,
        bearer: Option<&str>,
    ) -> Result<Arc<Call>> {
        let bearer = match (bearer, &self.pipeline.auth) {
            (Some(token), _) => Some(token.to_string()),
            (None, Auth::Token(cache)) => Some(
                cache
                    .token((self.pipeline.clock)())
                    .await?
                    .expose_secret()
                    .to_string(),
            ),
            (None, Auth::Key(_)) => None,
        };
        Ok(Call::new(idempotency, bearer))
    }
}

/// A success response must be JSON where the API says so.
pub(crate) fn expect_json<T>(response: &ResponseValue<T>, call: &Call) -> Result<()> {
    if is_json(response.headers()) {
        return Ok(());
    }
    Err(not_json(
        response.status().as_u16(),
        response.headers(),
        call,
    ))
}

/// Whether the headers declare a JSON body (`application/json` or `…+json`).
pub(crate) fn is_json(headers: &reqwest::header::HeaderMap) -> bool {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media == "application/json" || media.ends_with("+json")
}

/// The decode error for a success answer that is not JSON.
pub(crate) fn not_json(status: u16, headers: &reqwest::header::HeaderMap, call: &Call) -> Error {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Error::Decode(Box::new(DecodeError {
        status: Some(status),
        reason: format!("content type {content_type:?} is not JSON"),
        snippet: String::new(),
        request_id: Some(call.request_id.clone()),
    }))
}

pub(crate) fn check_not_empty(name: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(name, "must not be empty"));
    }
    Ok(())
}

fn check_scopes(scopes: &[TokenScope]) -> Result<()> {
    if scopes.is_empty() {
        return Err(Error::invalid("scopes", "give at least one scope"));
    }
    Ok(())
}

/// The generated operations shared by both families, written once for each
/// generated module.
macro_rules! shared_ops {
    ($family:ident, $m:ident) => {
        impl ApiFamily for $family {
            type Raw = raw::$m::Client;

            fn new_raw(base: &str, http: reqwest::Client, inner: raw::Inner) -> Self::Raw {
                raw::$m::Client::new_with_client(base, http, inner)
            }

            fn create<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                args: CreateArgs,
            ) -> impl Future<Output = Result<Created>> + Send + 'a {
                async move {
                    let idempotency = if args.custom_id.is_some() {
                        Idempotency::Safe
                    } else {
                        Idempotency::NotAfterSend
                    };
                    let body = create_body!($m, args);
                    let (response, call) = core
                        .run(idempotency, None, || {
                            raw.create_identity(&core.api_version, &body)
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    let status = response.status().as_u16();
                    let (user, token) =
                        convert::UserAndToken::into_user_and_token(response.into_inner());
                    Ok(Created {
                        user,
                        token,
                        status,
                        call,
                    })
                }
            }

            fn issue_token<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                user: &'a str,
                scopes: &'a [TokenScope],
                minutes: Option<i32>,
            ) -> impl Future<Output = Result<AccessToken>> + Send + 'a {
                async move {
                    let body = raw::$m::types::CommunicationIdentityAccessTokenRequest {
                        scopes: scopes
                            .iter()
                            .map(|s| {
                                raw::$m::types::CommunicationIdentityTokenScope(
                                    s.as_str().to_owned(),
                                )
                            })
                            .collect(),
                        expires_in_minutes: minutes,
                    };
                    let (response, call) = core
                        .run(Idempotency::Safe, None, || {
                            raw.issue_access_token(user, &core.api_version, &body)
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    Ok(response.into_inner().into())
                }
            }

            fn revoke_tokens<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                user: &'a str,
            ) -> impl Future<Output = Result<()>> + Send + 'a {
                async move {
                    core.run(Idempotency::Safe, None, || {
                        raw.revoke_access_tokens(user, &core.api_version)
                    })
                    .await?;
                    Ok(())
                }
            }

            fn delete_user<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                user: &'a str,
            ) -> impl Future<Output = Result<()>> + Send + 'a {
                async move {
                    core.run(Idempotency::Safe, None, || {
                        raw.delete_identity(user, &core.api_version)
                    })
                    .await?;
                    Ok(())
                }
            }

            fn teams_user_token<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                options: &'a GetTokenForTeamsUserOptions,
            ) -> impl Future<Output = Result<AccessToken>> + Send + 'a {
                async move {
                    let body = raw::$m::types::TeamsUserExchangeTokenRequest {
                        token: options.teams_user_aad_token.clone(),
                        app_id: options.client_id.clone(),
                        user_id: options.user_object_id.clone(),
                    };
                    let (response, call) = core
                        .run(Idempotency::Safe, None, || {
                            raw.exchange_teams_user_access_token(&core.api_version, &body)
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    Ok(response.into_inner().into())
                }
            }

            fn teams_extension_token<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                entra_token: &'a str,
            ) -> impl Future<Output = Result<CommunicationUserAndToken>> + Send + 'a {
                async move {
                    let body =
                        raw::$m::types::TeamsExtensionExchangeTokenRequest(serde_json::Map::new());
                    let (response, call) = core
                        .run(Idempotency::Safe, Some(entra_token), || {
                            raw.exchange_teams_extension_access_token(&core.api_version, &body)
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    let status = response.status().as_u16();
                    require_token(response.into_inner(), &call, status)
                }
            }

            fn get_teams_extension_assignment<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                tenant_id: &'a str,
                object_id: &'a str,
            ) -> impl Future<Output = Result<TeamsExtensionAssignment>> + Send + 'a {
                async move {
                    let (response, call) = core
                        .run(Idempotency::Safe, None, || {
                            raw.get_teams_extension_assignment(
                                tenant_id,
                                object_id,
                                &core.api_version,
                            )
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    Ok(response.into_inner().into())
                }
            }

            fn upsert_teams_extension_assignment<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                tenant_id: &'a str,
                object_id: &'a str,
                principal_type: &'a TeamsExtensionPrincipalType,
                client_ids: &'a [String],
            ) -> impl Future<Output = Result<Upserted<TeamsExtensionAssignment>>> + Send + 'a {
                async move {
                    let body = raw::$m::types::TeamsExtensionAssignmentCreateOrUpdateRequest {
                        principal_type: raw::$m::types::TeamsExtensionPrincipalType(
                            principal_type.to_string(),
                        ),
                        client_ids: client_ids.to_vec(),
                    };
                    let (response, call) = core
                        .run(Idempotency::Safe, None, || {
                            raw.upsert_teams_extension_assignment(
                                tenant_id,
                                object_id,
                                &core.api_version,
                                &body,
                            )
                        })
                        .await?;
                    expect_json(&response, &call)?;
                    let created = response.status().as_u16() == 201;
                    Ok(Upserted {
                        value: response.into_inner().into(),
                        created,
                    })
                }
            }

            fn delete_teams_extension_assignment<'a>(
                raw: &'a Self::Raw,
                core: &'a Core,
                tenant_id: &'a str,
                object_id: &'a str,
            ) -> impl Future<Output = Result<()>> + Send + 'a {
                async move {
                    core.run(Idempotency::Safe, None, || {
                        raw.delete_teams_extension_assignment(
                            tenant_id,
                            object_id,
                            &core.api_version,
                        )
                    })
                    .await?;
                    Ok(())
                }
            }
        }
    };
}

/// The create body of each generated module (only the preview has `customId`).
macro_rules! create_body {
    (v2025_06_30, $args:ident) => {{
        debug_assert!(
            $args.custom_id.is_none(),
            "the stable client cannot set a custom id"
        );
        raw::v2025_06_30::types::CommunicationIdentityCreateRequest {
            create_token_with_scopes: $args
                .scopes
                .iter()
                .map(|s| {
                    raw::v2025_06_30::types::CommunicationIdentityTokenScope(s.as_str().to_owned())
                })
                .collect(),
            expires_in_minutes: $args.minutes,
        }
    }};
    (v2025_03_02_preview, $args:ident) => {{
        use raw::v2025_03_02_preview::types as t;
        let custom_id = match &$args.custom_id {
            Some(id) => Some(
                id.parse::<t::CommunicationIdentityCreateRequestCustomId>()
                    .map_err(|e| Error::invalid("custom_id", e.to_string()))?,
            ),
            None => None,
        };
        t::CommunicationIdentityCreateRequest {
            create_token_with_scopes: $args
                .scopes
                .iter()
                .map(|s| t::CommunicationIdentityTokenScope(s.as_str().to_owned()))
                .collect(),
            custom_id,
            expires_in_minutes: $args.minutes,
        }
    }};
}

shared_ops!(Stable, v2025_06_30);
shared_ops!(Preview, v2025_03_02_preview);

/// The inputs of [`CommunicationIdentityClient::get_token_for_teams_user`].
///
/// # Examples
///
/// ```
/// use acs_identity::GetTokenForTeamsUserOptions;
///
/// let options = GetTokenForTeamsUserOptions::new("eyJ0eXAiOiJKV1Qi...", "app-id", "user-oid");
/// assert_eq!(options.client_id, "app-id");
/// assert!(!format!("{options:?}").contains("eyJ"), "Debug hides the token");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetTokenForTeamsUserOptions {
    /// The Teams user's Entra ID access token (a secret).
    pub teams_user_aad_token: String,
    /// The Entra application (client) id, checked against the token's `appid`.
    pub client_id: String,
    /// The Teams user's Entra object id, checked against the token's `oid`.
    pub user_object_id: String,
}

impl GetTokenForTeamsUserOptions {
    /// The three inputs of the exchange.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::GetTokenForTeamsUserOptions;
    ///
    /// // The ids must be the token's `appid` and `oid` claims.
    /// let options = GetTokenForTeamsUserOptions::new("eyJ0eXAiOiJKV1Qi...", "app-id", "user-oid");
    /// assert_eq!(options.user_object_id, "user-oid");
    /// ```
    pub fn new(
        teams_user_aad_token: impl Into<String>,
        client_id: impl Into<String>,
        user_object_id: impl Into<String>,
    ) -> Self {
        Self {
            teams_user_aad_token: teams_user_aad_token.into(),
            client_id: client_id.into(),
            user_object_id: user_object_id.into(),
        }
    }
}

impl fmt::Debug for GetTokenForTeamsUserOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetTokenForTeamsUserOptions")
            .field("teams_user_aad_token", &"***")
            .field("client_id", &self.client_id)
            .field("user_object_id", &self.user_object_id)
            .finish()
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

impl<V: ApiFamily> IdentityClient<V> {
    pub(crate) fn from_core(core: Core) -> Self {
        let inner = raw::Inner::with_transport(core.pipeline.clone());
        let raw = V::new_raw(&core.base(), core.http.clone(), inner);
        Self {
            inner: Arc::new(Inner { core, raw }),
        }
    }

    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    pub(crate) fn raw(&self) -> &V::Raw {
        &self.inner.raw
    }

    /// The api-version this client sends.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentityClient;
    ///
    /// let conn = "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0";
    /// let client = CommunicationIdentityClient::builder_from_connection_string(conn)?
    ///     .api_version("2022-10-01")
    ///     .build()?;
    /// assert_eq!(client.api_version(), "2022-10-01");
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn api_version(&self) -> &str {
        &self.inner.core.api_version
    }

    /// The endpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// use acs_identity::CommunicationIdentityClient;
    ///
    /// let client = CommunicationIdentityClient::from_connection_string(
    ///     "endpoint=https://my-resource.communication.azure.com;accesskey=c2VjcmV0",
    /// )?;
    /// assert_eq!(client.endpoint().host_str(), Some("my-resource.communication.azure.com"));
    /// # Ok::<(), acs_identity::Error>(())
    /// ```
    pub fn endpoint(&self) -> &Url {
        &self.inner.core.endpoint
    }

    /// Creates a user. Await it, or set options first.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let user = client.create_user().await?;
    /// assert!(user.id().starts_with("8:acs:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_user(&self) -> CreateUser<'_, V> {
        CreateUser {
            client: self,
            custom_id: None,
        }
    }

    /// Creates a user together with an access token for `scopes`. Await it,
    /// or set the lifetime first.
    ///
    /// # Errors
    ///
    /// Awaiting it fails with [`Error::InvalidArgument`] for no scopes or a
    /// lifetime that is not 60 to 1440 whole minutes (nothing is sent), and
    /// with [`Error::Service`] and the other call errors.
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
    /// let created = client.create_user_and_token([TokenScope::Chat, TokenScope::Voip]).await?;
    /// assert!(created.user.id().starts_with("8:acs:"));
    /// assert!(created.access_token.expires_on() > chrono::Utc::now());
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_user_and_token(
        &self,
        scopes: impl IntoIterator<Item = TokenScope>,
    ) -> CreateUserAndToken<'_, V> {
        CreateUserAndToken {
            client: self,
            scopes: scopes.into_iter().collect(),
            expires_in: None,
            custom_id: None,
        }
    }

    /// Issues an access token for `user` with `scopes`. Await it, or set
    /// the lifetime first.
    ///
    /// # Errors
    ///
    /// Awaiting it fails with [`Error::InvalidArgument`] for no scopes or a
    /// lifetime that is not 60 to 1440 whole minutes (nothing is sent), and
    /// with [`Error::Service`] (404 for an unknown user) and the other call
    /// errors.
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
    /// let token = client.get_token(&user, [TokenScope::Chat]).await?;
    /// assert!(!token.token().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_token<'a>(
        &'a self,
        user: &'a CommunicationUserIdentifier,
        scopes: impl IntoIterator<Item = TokenScope>,
    ) -> GetToken<'a, V> {
        GetToken {
            client: self,
            user,
            scopes: scopes.into_iter().collect(),
            expires_in: None,
        }
    }

    /// Revokes every access token issued to `user` so far.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown user) and the other call errors.
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
    /// let created = client.create_user_and_token([TokenScope::Chat]).await?;
    /// client.revoke_tokens(&created.user).await?; // the token just issued stops working
    /// # assert!(!emulator.is_token_valid(created.access_token.token()));
    /// let fresh = client.get_token(&created.user, [TokenScope::Chat]).await?;
    /// assert_ne!(fresh, created.access_token);
    /// # assert!(emulator.is_token_valid(fresh.token()));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn revoke_tokens(&self, user: &CommunicationUserIdentifier) -> Result<()> {
        V::revoke_tokens(self.raw(), self.core(), user.id()).await
    }

    /// Deletes `user`, its data and its tokens.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] and the other call errors.
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
    /// client.delete_user(&user).await?;
    /// let err = client.get_token(&user, [TokenScope::Chat]).await.unwrap_err();
    /// assert!(err.is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_user(&self, user: &CommunicationUserIdentifier) -> Result<()> {
        V::delete_user(self.raw(), self.core(), user.id()).await
    }

    /// Exchanges a Teams user's Entra ID token for a Communication Services
    /// access token (the token expires with the Teams token).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty input, or, before any request,
    /// when `user_object_id` is the token's tenant id (`tid`) rather than its
    /// `oid` (see [`EntraTokenClaims`]); [`Error::Service`] (401
    /// `InvalidAccessToken`, 400 `ValidationError`) and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let claims = serde_json::json!({"appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
    /// # let entra_token = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims.to_string()));
    /// # let teams_token = entra_token;
    /// use acs_identity::{Error, GetTokenForTeamsUserOptions};
    ///
    /// // `teams_token`: the Teams user's Entra ID token (from MSAL), issued to
    /// // application `app-id` for the user with object id `user-oid`.
    /// let options = GetTokenForTeamsUserOptions::new(&teams_token, "app-id", "user-oid");
    /// let token = client.get_token_for_teams_user(&options).await?;
    /// assert!(!token.token().is_empty());
    ///
    /// // The tenant id in place of the object id is caught before the call.
    /// let mistaken = GetTokenForTeamsUserOptions::new(&teams_token, "app-id", "tenant-id");
    /// let err = client.get_token_for_teams_user(&mistaken).await.unwrap_err();
    /// assert!(matches!(err, Error::InvalidArgument { name: "user_object_id", .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_token_for_teams_user(
        &self,
        options: &GetTokenForTeamsUserOptions,
    ) -> Result<AccessToken> {
        check_not_empty("teams_user_aad_token", &options.teams_user_aad_token)?;
        check_not_empty("client_id", &options.client_id)?;
        check_not_empty("user_object_id", &options.user_object_id)?;
        // The service answers this one with a bare 401; say what is wrong.
        if let Some(mistake) = EntraTokenClaims::decode(&options.teams_user_aad_token)
            .ok()
            .and_then(|claims| claims.mistake(&options.user_object_id))
        {
            return Err(Error::invalid("user_object_id", mistake));
        }
        V::teams_user_token(self.raw(), self.core(), options).await
    }

    /// Exchanges an Entra ID token of a Teams Phone extension user (sent as
    /// the bearer token) for a Communication Services identity and token.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] when no assignment allows it, and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let claims = serde_json::json!({"appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
    /// # let entra_token = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims.to_string()));
    /// use acs_identity::TeamsExtensionPrincipalType;
    ///
    /// // `entra_token`: the user's Entra ID token, issued to application `app-id`
    /// // for user `user-oid` of tenant `tenant-id`. An assignment must allow it.
    /// client
    ///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"])
    ///     .await?;
    /// let exchanged = client.exchange_teams_extension_token(&entra_token).await?;
    /// assert!(!exchanged.access_token.token().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn exchange_teams_extension_token(
        &self,
        entra_user_token: &str,
    ) -> Result<CommunicationUserAndToken> {
        check_not_empty("entra_user_token", entra_user_token)?;
        V::teams_extension_token(self.raw(), self.core(), entra_user_token).await
    }

    /// Reads the Teams Phone extension assignment of `object_id` in `tenant_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 when there is none) and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TeamsExtensionPrincipalType;
    ///
    /// client
    ///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"])
    ///     .await?;
    /// let assignment = client.get_teams_extension_assignment("tenant-id", "user-oid").await?;
    /// assert_eq!(assignment.client_ids, ["app-id"]);
    ///
    /// let err = client.get_teams_extension_assignment("tenant-id", "someone-else").await.unwrap_err();
    /// assert!(err.is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_teams_extension_assignment(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<TeamsExtensionAssignment> {
        check_not_empty("tenant_id", tenant_id)?;
        check_not_empty("object_id", object_id)?;
        V::get_teams_extension_assignment(self.raw(), self.core(), tenant_id, object_id).await
    }

    /// Creates or replaces the Teams Phone extension assignment of
    /// `object_id` in `tenant_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TeamsExtensionPrincipalType;
    ///
    /// let first = client
    ///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"])
    ///     .await?;
    /// assert!(first.created);
    /// let second = client
    ///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id", "other-app"])
    ///     .await?;
    /// assert!(!second.created, "replaced");
    /// assert_eq!(second.value.client_ids, ["app-id", "other-app"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn upsert_teams_extension_assignment(
        &self,
        tenant_id: &str,
        object_id: &str,
        principal_type: TeamsExtensionPrincipalType,
        client_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Upserted<TeamsExtensionAssignment>> {
        check_not_empty("tenant_id", tenant_id)?;
        check_not_empty("object_id", object_id)?;
        let client_ids: Vec<String> = client_ids.into_iter().map(Into::into).collect();
        V::upsert_teams_extension_assignment(
            self.raw(),
            self.core(),
            tenant_id,
            object_id,
            &principal_type,
            &client_ids,
        )
        .await
    }

    /// Deletes the Teams Phone extension assignment of `object_id` in `tenant_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TeamsExtensionPrincipalType;
    ///
    /// client
    ///     .upsert_teams_extension_assignment("tenant-id", "user-oid", TeamsExtensionPrincipalType::User, ["app-id"])
    ///     .await?;
    /// client.delete_teams_extension_assignment("tenant-id", "user-oid").await?;
    /// let err = client.get_teams_extension_assignment("tenant-id", "user-oid").await.unwrap_err();
    /// assert!(err.is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_teams_extension_assignment(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<()> {
        check_not_empty("tenant_id", tenant_id)?;
        check_not_empty("object_id", object_id)?;
        V::delete_teams_extension_assignment(self.raw(), self.core(), tenant_id, object_id).await
    }
}

/// The pending [`create_user`](CommunicationIdentityClient::create_user) call.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// // Await it as is (stable and preview clients), or, on the preview
/// // client, link the user to your own id first.
/// let user = client.create_user().await?;
/// let alice = client.create_user().custom_id("alice@contoso.com").await?;
/// assert_ne!(user, alice);
/// assert_eq!(alice, client.create_user().custom_id("alice@contoso.com").await?);
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until awaited"]
pub struct CreateUser<'a, V: ApiFamily> {
    pub(crate) client: &'a IdentityClient<V>,
    pub(crate) custom_id: Option<String>,
}

impl<'a, V: ApiFamily> IntoFuture for CreateUser<'a, V> {
    type Output = Result<CommunicationUserIdentifier>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let args = CreateArgs {
                custom_id: self.custom_id,
                ..Default::default()
            };
            Ok(V::create(self.client.raw(), self.client.core(), args)
                .await?
                .user)
        })
    }
}

/// The pending [`create_user_and_token`](CommunicationIdentityClient::create_user_and_token) call.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::TokenScope;
/// use std::time::Duration;
///
/// let created = client
///     .create_user_and_token([TokenScope::Chat])
///     .expires_in(Duration::from_secs(2 * 60 * 60))
///     .custom_id("alice@contoso.com") // preview client only
///     .await?;
/// assert!(created.access_token.expires_on() <= chrono::Utc::now() + Duration::from_secs(2 * 60 * 60));
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until awaited"]
pub struct CreateUserAndToken<'a, V: ApiFamily> {
    pub(crate) client: &'a IdentityClient<V>,
    pub(crate) scopes: Vec<TokenScope>,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) custom_id: Option<String>,
}

impl<V: ApiFamily> CreateUserAndToken<'_, V> {
    /// The token's lifetime: whole minutes from 60 to 1440 (default 1440).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{Error, TokenScope};
    /// use std::time::Duration;
    ///
    /// let created = client
    ///     .create_user_and_token([TokenScope::Voip])
    ///     .expires_in(Duration::from_secs(60 * 60))
    ///     .await?;
    /// assert!(created.access_token.expires_on() <= chrono::Utc::now() + Duration::from_secs(60 * 60));
    ///
    /// // Lifetimes outside 60 to 1440 whole minutes are refused before sending.
    /// let too_short = client.create_user_and_token([TokenScope::Voip]).expires_in(Duration::from_secs(30 * 60));
    /// assert!(matches!(too_short.await, Err(Error::InvalidArgument { name: "expires_in", .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }
}

impl<'a, V: ApiFamily> IntoFuture for CreateUserAndToken<'a, V> {
    type Output = Result<CommunicationUserAndToken>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            check_scopes(&self.scopes)?;
            let minutes = self.expires_in.map(lifetime_minutes).transpose()?;
            let args = CreateArgs {
                scopes: self.scopes,
                minutes,
                custom_id: self.custom_id,
            };
            let created = V::create(self.client.raw(), self.client.core(), args).await?;
            let (status, call) = (created.status, Arc::clone(&created.call));
            require_token(created, &call, status)
        })
    }
}

impl convert::UserAndToken for Created {
    fn into_user_and_token(self) -> (CommunicationUserIdentifier, Option<AccessToken>) {
        (self.user, self.token)
    }
}

/// The pending [`get_token`](CommunicationIdentityClient::get_token) call.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// use acs_identity::TokenScope;
/// use std::time::Duration;
///
/// let user = client.create_user().await?;
/// let token = client
///     .get_token(&user, [TokenScope::Chat, TokenScope::Voip])
///     .expires_in(Duration::from_secs(8 * 60 * 60))
///     .await?;
/// assert!(token.expires_on() > chrono::Utc::now() + Duration::from_secs(7 * 60 * 60));
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until awaited"]
pub struct GetToken<'a, V: ApiFamily> {
    client: &'a IdentityClient<V>,
    user: &'a CommunicationUserIdentifier,
    scopes: Vec<TokenScope>,
    expires_in: Option<Duration>,
}

impl<V: ApiFamily> GetToken<'_, V> {
    /// The token's lifetime: whole minutes from 60 to 1440 (default 1440).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{MAX_TOKEN_LIFETIME, TokenScope};
    ///
    /// let user = client.create_user().await?;
    /// let token = client.get_token(&user, [TokenScope::Chat]).expires_in(MAX_TOKEN_LIFETIME).await?;
    /// assert!(token.expires_on() > chrono::Utc::now() + (MAX_TOKEN_LIFETIME - std::time::Duration::from_secs(60)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }
}

impl<'a, V: ApiFamily> IntoFuture for GetToken<'a, V> {
    type Output = Result<AccessToken>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            check_scopes(&self.scopes)?;
            let minutes = self.expires_in.map(lifetime_minutes).transpose()?;
            V::issue_token(
                self.client.raw(),
                self.client.core(),
                self.user.id(),
                &self.scopes,
                minutes,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_clone_send_sync_debug() {
        fn check<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
        check::<CommunicationIdentityClient>();
        check::<IdentityClient<Stable>>();
        check::<crate::preview::CommunicationIdentityClient>();
    }

    #[test]
    fn teams_options_debug_hides_the_token() {
        let o = GetTokenForTeamsUserOptions::new("eyJ.secret.token", "app", "user");
        assert!(!format!("{o:?}").contains("eyJ"));
    }
}
