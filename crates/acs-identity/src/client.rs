//! The client and its operations.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::assignment::{TeamsExtensionAssignment, TeamsExtensionPrincipalType, Upserted};
use crate::convert;
use crate::credential::Auth;
use crate::credential::BoxFuture;
use crate::decode;
use crate::entra_claims::EntraTokenClaims;
use crate::error::{Error, Result};
use crate::identifier::CommunicationUserIdentifier;
use crate::pending::{Args, CallOptions, Pending, Response, Run, call_builder, respond};
use crate::pipeline::{Call, Pipeline};
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
    shared: Arc<Shared>,
    family: PhantomData<fn() -> V>,
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

impl<V: ApiFamily> Clone for IdentityClient<V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            family: PhantomData,
        }
    }
}

impl<V: ApiFamily> fmt::Debug for IdentityClient<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityClient")
            .field("endpoint", &self.shared.endpoint.as_str())
            .field("api_version", &self.shared.api_version)
            .field("pipeline", &self.shared.pipeline)
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

/// Which generated module a client's requests are built by.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `acs_identity_raw::v2025_06_30`.
    Stable,
    /// `acs_identity_raw::v2025_03_02_preview`.
    Preview,
}

/// The api-version family of a client: [`Stable`] or [`Preview`]. Sealed.
/// Code written for `IdentityClient<V: ApiFamily>` works with both clients.
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
    const FAMILY: Family;
}

impl ApiFamily for Stable {
    const FAMILY: Family = Family::Stable;
}

impl ApiFamily for Preview {
    const FAMILY: Family = Family::Preview;
}

/// What every client shares between its clones.
pub(crate) struct Shared {
    pub(crate) endpoint: Url,
    /// The endpoint without its trailing `/`, as the generated clients want it.
    pub(crate) base: String,
    pub(crate) api_version: String,
    pub(crate) http: reqwest::Client,
    pub(crate) pipeline: Arc<Pipeline>,
}

/// Runs `$body` with `$raw` bound to the generated client of the call's
/// family (a per-call client carrying the call) and `$t` to that module's
/// `types`. The two generated modules have the same operations over
/// distinct types, so the body is written once and compiled for each.
macro_rules! with_raw {
    ($family:expr, $shared:expr, $call:expr, |$raw:ident, $t:ident| $body:expr) => {
        match $family {
            Family::Stable => {
                #[allow(unused_imports)]
                use acs_identity_raw::v2025_06_30::types as $t;
                let $raw = acs_identity_raw::v2025_06_30::Client::new_with_client(
                    &$shared.base,
                    $shared.http.clone(),
                    $shared.pipeline.for_call($call),
                );
                $body
            }
            Family::Preview => {
                #[allow(unused_imports)]
                use acs_identity_raw::v2025_03_02_preview::types as $t;
                let $raw = acs_identity_raw::v2025_03_02_preview::Client::new_with_client(
                    &$shared.base,
                    $shared.http.clone(),
                    $shared.pipeline.for_call($call),
                );
                $body
            }
        }
    };
}

impl Shared {
    /// The context of one call: its request id, whether it may be sent
    /// twice, and its bearer token (the user's, for the token exchanges;
    /// the Entra token, when the client authenticates with one).
    pub(crate) async fn call(
        &self,
        idempotency: Idempotency,
        bearer: Option<&str>,
        options: CallOptions,
    ) -> Result<Arc<Call>> {
        options.check()?;
        Ok(Arc::new(
            Call::new(idempotency, self.bearer(bearer).await?).with_options(options),
        ))
    }

    /// The bearer token of a call: the one given, or the Entra token when
    /// the client authenticates with one (none with the access key).
    pub(crate) async fn bearer(&self, given: Option<&str>) -> Result<Option<String>> {
        Ok(match (given, &self.pipeline.auth) {
            (Some(token), _) => Some(token.to_owned()),
            (None, Auth::Token(cache)) => Some(
                cache
                    .token((self.pipeline.clock)())
                    .await?
                    .expose_secret()
                    .to_owned(),
            ),
            (None, Auth::Key(_)) => None,
        })
    }

    /// Creates a user, with a token when `scopes` are given.
    async fn create(
        &self,
        family: Family,
        scopes: &[TokenScope],
        minutes: Option<i32>,
        custom_id: Option<&str>,
        options: CallOptions,
    ) -> Result<(
        u16,
        CommunicationUserIdentifier,
        Option<AccessToken>,
        Arc<Call>,
    )> {
        // A create that names its user can be sent twice; one that does not
        // would make a second user.
        let idempotency = match custom_id {
            Some(_) => Idempotency::Safe,
            None => Idempotency::NotAfterSend,
        };
        let call = self.call(idempotency, None, options).await?;
        let (status, (user, token)) = with_raw!(family, self, &call, |raw, t| {
            #[allow(clippy::needless_update)]
            let body = t::CommunicationIdentityCreateRequest {
                create_token_with_scopes: scopes
                    .iter()
                    .map(|s| t::CommunicationIdentityTokenScope(s.as_str().to_owned()))
                    .collect(),
                expires_in_minutes: minutes,
                ..Default::default()
            }
            .custom_id(custom_id)?;
            let (status, result) =
                decode::answer(raw.create_identity(&self.api_version, &body).await, &call).await?;
            (
                status,
                convert::user_and_token(result.identity.id, result.access_token),
            )
        });
        Ok((status, user, token, call))
    }
}

/// Sets the `customId` of a create body: only the preview body has one.
trait CustomId: Sized {
    fn custom_id(self, custom_id: Option<&str>) -> Result<Self>;
}

impl CustomId for acs_identity_raw::v2025_06_30::types::CommunicationIdentityCreateRequest {
    fn custom_id(self, custom_id: Option<&str>) -> Result<Self> {
        debug_assert!(custom_id.is_none(), "the stable client sets no custom id");
        Ok(self)
    }
}

impl CustomId for acs_identity_raw::v2025_03_02_preview::types::CommunicationIdentityCreateRequest {
    fn custom_id(mut self, custom_id: Option<&str>) -> Result<Self> {
        self.custom_id = custom_id.map(str::parse).transpose().map_err(
            |e: acs_identity_raw::v2025_03_02_preview::types::error::ConversionError| {
                Error::invalid("custom_id", e.to_string())
            },
        )?;
        Ok(self)
    }
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

impl<V: ApiFamily> IdentityClient<V> {
    pub(crate) fn new(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
            family: PhantomData,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
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
        &self.shared.api_version
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
        &self.shared.endpoint
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
            options: CallOptions::default(),
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
            options: CallOptions::default(),
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
            options: CallOptions::default(),
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
    pub fn revoke_tokens<'a>(
        &'a self,
        user: &'a CommunicationUserIdentifier,
    ) -> Pending<'a, V, ()> {
        Pending::new(self, Args::User(user), |client, args, options| {
            Box::pin(async move {
                let Args::User(user) = args else {
                    unreachable!("made with a user")
                };
                let shared = client.shared();
                let call = shared.call(Idempotency::Safe, None, options).await?;
                with_raw!(V::FAMILY, shared, &call, |raw, t| {
                    let answer = raw
                        .revoke_access_tokens(user.id(), &shared.api_version)
                        .await;
                    decode::answer(answer, &call).await?;
                });
                respond(&call, ())
            })
        })
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
    pub fn delete_user<'a>(&'a self, user: &'a CommunicationUserIdentifier) -> Pending<'a, V, ()> {
        Pending::new(self, Args::User(user), |client, args, options| {
            Box::pin(async move {
                let Args::User(user) = args else {
                    unreachable!("made with a user")
                };
                let shared = client.shared();
                let call = shared.call(Idempotency::Safe, None, options).await?;
                with_raw!(V::FAMILY, shared, &call, |raw, t| {
                    let answer = raw.delete_identity(user.id(), &shared.api_version).await;
                    decode::answer(answer, &call).await?;
                });
                respond(&call, ())
            })
        })
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
    /// # let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
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
    pub fn get_token_for_teams_user<'a>(
        &'a self,
        options: &'a GetTokenForTeamsUserOptions,
    ) -> Pending<'a, V, AccessToken> {
        Pending::new(
            self,
            Args::TeamsUser(options),
            |client, args, call_options| {
                Box::pin(async move {
                    let Args::TeamsUser(options) = args else {
                        unreachable!("made with the options")
                    };
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
                    let shared = client.shared();
                    let call = shared.call(Idempotency::Safe, None, call_options).await?;
                    let token = with_raw!(V::FAMILY, shared, &call, |raw, t| {
                        let body = t::TeamsUserExchangeTokenRequest {
                            token: options.teams_user_aad_token.clone(),
                            app_id: options.client_id.clone(),
                            user_id: options.user_object_id.clone(),
                        };
                        let answer = raw
                            .exchange_teams_user_access_token(&shared.api_version, &body)
                            .await;
                        AccessToken::from(decode::answer(answer, &call).await?.1)
                    });
                    respond(&call, token)
                })
            },
        )
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
    /// # let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
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
    pub fn exchange_teams_extension_token<'a>(
        &'a self,
        entra_user_token: &'a str,
    ) -> Pending<'a, V, CommunicationUserAndToken> {
        Pending::new(
            self,
            Args::Text(entra_user_token),
            |client, args, options| {
                Box::pin(async move {
                    let Args::Text(entra_user_token) = args else {
                        unreachable!("made with the token")
                    };
                    check_not_empty("entra_user_token", entra_user_token)?;
                    let shared = client.shared();
                    // The user's token is the bearer: it says who is exchanging.
                    let call = shared
                        .call(Idempotency::Safe, Some(entra_user_token), options)
                        .await?;
                    let (status, user, token) = with_raw!(V::FAMILY, shared, &call, |raw, t| {
                        let body = t::TeamsExtensionExchangeTokenRequest(serde_json::Map::new());
                        let answer = raw
                            .exchange_teams_extension_access_token(&shared.api_version, &body)
                            .await;
                        let (status, result) = decode::answer(answer, &call).await?;
                        let (user, token) =
                            convert::user_and_token(result.identity.id, result.access_token);
                        (status, user, token)
                    });
                    respond(&call, convert::require_token(user, token, status, &call)?)
                })
            },
        )
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
    pub fn get_teams_extension_assignment<'a>(
        &'a self,
        tenant_id: &'a str,
        object_id: &'a str,
    ) -> Pending<'a, V, TeamsExtensionAssignment> {
        Pending::new(
            self,
            Args::Pair(tenant_id, object_id),
            |client, args, options| {
                Box::pin(async move {
                    let Args::Pair(tenant_id, object_id) = args else {
                        unreachable!("made with two ids")
                    };
                    check_not_empty("tenant_id", tenant_id)?;
                    check_not_empty("object_id", object_id)?;
                    let shared = client.shared();
                    let call = shared.call(Idempotency::Safe, None, options).await?;
                    let assignment = with_raw!(V::FAMILY, shared, &call, |raw, t| {
                        let answer = raw
                            .get_teams_extension_assignment(
                                tenant_id,
                                object_id,
                                &shared.api_version,
                            )
                            .await;
                        TeamsExtensionAssignment::from(decode::answer(answer, &call).await?.1)
                    });
                    respond(&call, assignment)
                })
            },
        )
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
    pub fn upsert_teams_extension_assignment<'a>(
        &'a self,
        tenant_id: &'a str,
        object_id: &'a str,
        principal_type: TeamsExtensionPrincipalType,
        client_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Pending<'a, V, Upserted<TeamsExtensionAssignment>> {
        let client_ids: Vec<String> = client_ids.into_iter().map(Into::into).collect();
        let args = Args::TeamsUpsert(tenant_id, object_id, principal_type, client_ids);
        Pending::new(self, args, |client, args, options| {
            Box::pin(async move {
                let Args::TeamsUpsert(tenant_id, object_id, principal_type, client_ids) = args
                else {
                    unreachable!("made with the assignment")
                };
                check_not_empty("tenant_id", tenant_id)?;
                check_not_empty("object_id", object_id)?;
                let shared = client.shared();
                let call = shared.call(Idempotency::Safe, None, options).await?;
                let (status, value) = with_raw!(V::FAMILY, shared, &call, |raw, t| {
                    let body = t::TeamsExtensionAssignmentCreateOrUpdateRequest {
                        principal_type: t::TeamsExtensionPrincipalType(principal_type.to_string()),
                        client_ids,
                    };
                    let answer = raw
                        .upsert_teams_extension_assignment(
                            tenant_id,
                            object_id,
                            &shared.api_version,
                            &body,
                        )
                        .await;
                    let (status, value) = decode::answer(answer, &call).await?;
                    (status, TeamsExtensionAssignment::from(value))
                });
                respond(
                    &call,
                    Upserted {
                        value,
                        created: status == 201,
                    },
                )
            })
        })
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
    pub fn delete_teams_extension_assignment<'a>(
        &'a self,
        tenant_id: &'a str,
        object_id: &'a str,
    ) -> Pending<'a, V, ()> {
        Pending::new(
            self,
            Args::Pair(tenant_id, object_id),
            |client, args, options| {
                Box::pin(async move {
                    let Args::Pair(tenant_id, object_id) = args else {
                        unreachable!("made with two ids")
                    };
                    check_not_empty("tenant_id", tenant_id)?;
                    check_not_empty("object_id", object_id)?;
                    let shared = client.shared();
                    let call = shared.call(Idempotency::Safe, None, options).await?;
                    with_raw!(V::FAMILY, shared, &call, |raw, t| {
                        let answer = raw
                            .delete_teams_extension_assignment(
                                tenant_id,
                                object_id,
                                &shared.api_version,
                            )
                            .await;
                        decode::answer(answer, &call).await?;
                    });
                    respond(&call, ())
                })
            },
        )
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
    pub(crate) options: CallOptions,
}

impl<'a, V: ApiFamily> Run for CreateUser<'a, V> {
    type Value = CommunicationUserIdentifier;
    type Future = BoxFuture<'a, Result<Response<CommunicationUserIdentifier>>>;

    fn options(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    fn run(self) -> Self::Future {
        Box::pin(async move {
            let shared = self.client.shared();
            let (_, user, _, call) = shared
                .create(
                    V::FAMILY,
                    &[],
                    None,
                    self.custom_id.as_deref(),
                    self.options,
                )
                .await?;
            respond(&call, user)
        })
    }
}

call_builder!(
    CreateUser<'a, V>,
    CommunicationUserIdentifier,
    "client.create_user()"
);

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
    pub(crate) options: CallOptions,
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

impl<'a, V: ApiFamily> Run for CreateUserAndToken<'a, V> {
    type Value = CommunicationUserAndToken;
    type Future = BoxFuture<'a, Result<Response<CommunicationUserAndToken>>>;

    fn options(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    fn run(self) -> Self::Future {
        Box::pin(async move {
            check_scopes(&self.scopes)?;
            let minutes = self.expires_in.map(lifetime_minutes).transpose()?;
            let shared = self.client.shared();
            let (status, user, token, call) = shared
                .create(
                    V::FAMILY,
                    &self.scopes,
                    minutes,
                    self.custom_id.as_deref(),
                    self.options,
                )
                .await?;
            respond(&call, convert::require_token(user, token, status, &call)?)
        })
    }
}

call_builder!(
    CreateUserAndToken<'a, V>,
    CommunicationUserAndToken,
    "client.create_user_and_token([acs_identity::TokenScope::Chat])"
);

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
    options: CallOptions,
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

impl<'a, V: ApiFamily> Run for GetToken<'a, V> {
    type Value = AccessToken;
    type Future = BoxFuture<'a, Result<Response<AccessToken>>>;

    fn options(&mut self) -> &mut CallOptions {
        &mut self.options
    }

    fn run(self) -> Self::Future {
        Box::pin(async move {
            check_scopes(&self.scopes)?;
            let minutes = self.expires_in.map(lifetime_minutes).transpose()?;
            let shared = self.client.shared();
            let call = shared.call(Idempotency::Safe, None, self.options).await?;
            let token = with_raw!(V::FAMILY, shared, &call, |raw, t| {
                let body = t::CommunicationIdentityAccessTokenRequest {
                    scopes: self
                        .scopes
                        .iter()
                        .map(|s| t::CommunicationIdentityTokenScope(s.as_str().to_owned()))
                        .collect(),
                    expires_in_minutes: minutes,
                };
                let answer = raw
                    .issue_access_token(self.user.id(), &shared.api_version, &body)
                    .await;
                AccessToken::from(decode::answer(answer, &call).await?.1)
            });
            respond(&call, token)
        })
    }
}

call_builder!(
    GetToken<'a, V>,
    AccessToken,
    "client.get_token(&user, [acs_identity::TokenScope::Chat])"
);

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
