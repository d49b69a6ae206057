//! The preview api-version (2025-03-02-preview): custom ids, reading a
//! user back, and Entra ID access.
//!
//! [`CommunicationIdentityClient`] here is the crate's client pinned to a
//! preview api-version. It has every stable operation, plus:
//!
//! - `create_user().custom_id(…)` and `create_user_and_token(…).custom_id(…)`:
//!   the same custom id always gives back the same user;
//! - [`get_user`](CommunicationIdentityClient::get_user);
//! - Entra assignments: list (a `Stream` over every page), get, upsert,
//!   delete and bulk update;
//! - [`exchange_entra_token`](CommunicationIdentityClient::exchange_entra_token).
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
//! # let connection_string = emulator.connection_string();
//! use acs_identity::preview::CommunicationIdentityClient;
//!
//! // endpoint=https://<resource>.communication.azure.com/;accesskey=<key>
//! let client = CommunicationIdentityClient::from_connection_string(&connection_string)?;
//! let user = client.create_user().custom_id("alice@contoso.com").await?;
//! let again = client.create_user().custom_id("alice@contoso.com").await?;
//! assert_eq!(user, again);
//! let detail = client.get_user(&user).await?;
//! assert_eq!(detail.custom_id.as_deref(), Some("alice@contoso.com"));
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;

use std::sync::Arc;

use acs_identity_raw::v2025_03_02_preview::{Client, types as t};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use futures_util::stream::{self, TryStreamExt as _};

use crate::assignment::{EntraAssignment, EntraAssignmentSpec, Upserted};
use crate::client::{self, CreateUser, CreateUserAndToken};
use crate::convert;
use crate::decode;
use crate::error::{Error, Result};
use crate::identifier::CommunicationUserIdentifier;
use crate::pending::{Args, CallOptions, Pending, respond};
use crate::pipeline::Call;
use crate::retry::Idempotency;
use crate::token::CommunicationUserAndToken;

pub use crate::client::Preview;

/// The client pinned to a preview api-version.
///
/// # Examples
///
/// ```
/// use acs_identity::{PREVIEW_DEFAULT, preview::CommunicationIdentityClient};
///
/// let client = CommunicationIdentityClient::from_connection_string(
///     "endpoint=https://my-resource.communication.azure.com/;accesskey=c2VjcmV0",
/// )?;
/// assert_eq!(client.api_version(), PREVIEW_DEFAULT);
/// # Ok::<(), acs_identity::Error>(())
/// ```
pub type CommunicationIdentityClient = client::IdentityClient<Preview>;

/// A user as [`get_user`](CommunicationIdentityClient::get_user) reads it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
/// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
/// let user = client.create_user().custom_id("alice@contoso.com").await?;
/// let detail = client.get_user(&user).await?;
/// assert_eq!(detail.user, user);
/// assert_eq!(detail.custom_id.as_deref(), Some("alice@contoso.com"));
/// assert_eq!(detail.last_token_issued_at, None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunicationUserDetail {
    /// The user.
    pub user: CommunicationUserIdentifier,
    /// The custom id it was created with, if any.
    pub custom_id: Option<String>,
    /// When a token was last issued to it, if ever.
    pub last_token_issued_at: Option<DateTime<Utc>>,
}

impl client::IdentityClient<Preview> {
    /// Reads a user: its id, custom id and when it last got a token.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown or deleted user) and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TokenScope;
    ///
    /// let created = client.create_user_and_token([TokenScope::Chat]).await?;
    /// let detail = client.get_user(&created.user).await?;
    /// assert_eq!(detail.custom_id, None);
    /// assert!(detail.last_token_issued_at.is_some());
    ///
    /// client.delete_user(&created.user).await?;
    /// assert!(client.get_user(&created.user).await.unwrap_err().is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_user<'a>(
        &'a self,
        user: &'a CommunicationUserIdentifier,
    ) -> Pending<'a, Preview, CommunicationUserDetail> {
        Pending::new(self, Args::User(user), |client, args, options| {
            Box::pin(async move {
                let Args::User(user) = args else {
                    unreachable!("made with a user")
                };
                let call = client.call(Idempotency::Safe, None, options).await?;
                let answer = client
                    .raw(&call)
                    .get_identity(user.id(), client.api_version())
                    .await;
                let (_, identity) = decode::answer(answer, &call).await?;
                let detail = CommunicationUserDetail {
                    user: CommunicationUserIdentifier::from_service(identity.id),
                    custom_id: identity.custom_id,
                    last_token_issued_at: identity.last_token_issued_at,
                };
                respond(&call, detail)
            })
        })
    }

    /// Exchanges an Entra ID user's token (sent as the bearer token) for a
    /// Communication Services identity and token.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] when no Entra assignment allows it, and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// # use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    /// # let claims = serde_json::json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id", "exp": chrono::Utc::now().timestamp() + 3600});
    /// # let entra_token = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims.to_string()));
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// // `entra_token`: the user's Entra ID token, issued to application `app-id`
    /// // for user `user-oid` of tenant `tenant-id`. An assignment must allow it.
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id"]);
    /// client.upsert_entra_assignment("user-oid", spec).await?;
    /// let exchanged = client.exchange_entra_token(&entra_token).await?;
    /// assert!(!exchanged.access_token.token().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn exchange_entra_token<'a>(
        &'a self,
        entra_user_token: &'a str,
    ) -> Pending<'a, Preview, CommunicationUserAndToken> {
        Pending::new(
            self,
            Args::Text(entra_user_token),
            |client, args, options| {
                Box::pin(async move {
                    let Args::Text(entra_user_token) = args else {
                        unreachable!("made with the token")
                    };
                    client::check_not_empty("entra_user_token", entra_user_token)?;
                    // The user's token is the bearer: it says who is exchanging.
                    let call = client
                        .call(Idempotency::Safe, Some(entra_user_token), options)
                        .await?;
                    let body = t::EntraExchangeTokenRequest(serde_json::Map::new());
                    let answer = client
                        .raw(&call)
                        .exchange_entra_access_token(client.api_version(), &body)
                        .await;
                    let (status, result) = decode::answer(answer, &call).await?;
                    let (user, token) =
                        convert::user_and_token(result.identity.id, result.access_token);
                    respond(&call, convert::require_token(user, token, status, &call)?)
                })
            },
        )
    }

    /// Every Entra assignment, following `nextLink` page by page as the
    /// stream is read.
    ///
    /// # Errors
    ///
    /// An item is an error when a page could not be fetched:
    /// [`Error::Service`] and the other call errors, or
    /// [`Error::InvalidArgument`] for a `nextLink` outside the endpoint. The
    /// stream ends after an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// # emulator.set_page_size(2);
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    /// use futures_util::TryStreamExt;
    ///
    /// for user in ["user-1", "user-2", "user-3"] {
    ///     let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id"]);
    ///     client.upsert_entra_assignment(user, spec).await?;
    /// }
    /// // Every page, however many there are.
    /// let all: Vec<_> = client.list_entra_assignments().try_collect().await?;
    /// assert_eq!(all.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_entra_assignments(
        &self,
    ) -> impl Stream<Item = Result<EntraAssignment>> + Send + '_ {
        enum Page {
            First,
            Next(String),
            Done,
        }
        stream::try_unfold(Page::First, move |page| async move {
            let link = match page {
                Page::Done => return Ok::<_, Error>(None),
                Page::First => None,
                Page::Next(link) => Some(link),
            };
            let response = self.page(link.as_deref()).await?;
            let next = match response.next_link.filter(|l| !l.is_empty()) {
                Some(link) => Page::Next(link),
                None => Page::Done,
            };
            let items: Vec<Result<EntraAssignment>> =
                response.value.into_iter().map(|a| Ok(a.into())).collect();
            Ok(Some((stream::iter(items), next)))
        })
        .try_flatten()
    }

    /// One page of the list: the first, or the one at a `nextLink`. A next
    /// page is the generated list operation sent to the link instead, so it
    /// is signed, retried and decoded as every other call.
    async fn page(&self, next_link: Option<&str>) -> Result<t::EntraAssignmentsResponse> {
        let mut call = Call::new(Idempotency::Safe, self.shared().bearer(None).await?);
        if let Some(link) = next_link {
            let endpoint = &self.shared().endpoint;
            let mut url = endpoint
                .join(link)
                .map_err(|e| Error::invalid("nextLink", e.to_string()))?;
            if url.origin() != endpoint.origin() {
                // Never send a signed request to another host.
                return Err(Error::invalid("nextLink", "it points outside the endpoint"));
            }
            if !url.query_pairs().any(|(k, _)| k == "api-version") {
                url.query_pairs_mut()
                    .append_pair("api-version", self.api_version());
            }
            call.next_link = Some(url);
        }
        let call = Arc::new(call);
        let answer = self
            .raw(&call)
            .list_entra_assignments(self.api_version())
            .await;
        Ok(decode::answer(answer, &call).await?.1)
    }

    /// Reads the Entra assignment of `object_id`.
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
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::Group, ["app-id"]);
    /// client.upsert_entra_assignment("group-oid", spec).await?;
    /// let assignment = client.get_entra_assignment("group-oid").await?;
    /// assert_eq!(assignment.principal_type, EntraPrincipalType::Group);
    /// assert!(client.get_entra_assignment("other-oid").await.unwrap_err().is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_entra_assignment<'a>(
        &'a self,
        object_id: &'a str,
    ) -> Pending<'a, Preview, EntraAssignment> {
        Pending::new(self, Args::Text(object_id), |client, args, options| {
            Box::pin(async move {
                let Args::Text(object_id) = args else {
                    unreachable!("made with an id")
                };
                client::check_not_empty("object_id", object_id)?;
                let call = client.call(Idempotency::Safe, None, options).await?;
                let answer = client
                    .raw(&call)
                    .get_entra_assignment(object_id, client.api_version())
                    .await;
                let assignment = decode::answer(answer, &call).await?.1.into();
                respond(&call, assignment)
            })
        })
    }

    /// Creates or replaces the Entra assignment of `object_id`.
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
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::Tenant, ["app-id"]);
    /// let first = client.upsert_entra_assignment("tenant-id", spec.clone()).await?;
    /// assert!(first.created);
    /// let again = client.upsert_entra_assignment("tenant-id", spec).await?;
    /// assert!(!again.created, "replaced");
    /// # Ok(())
    /// # }
    /// ```
    pub fn upsert_entra_assignment<'a>(
        &'a self,
        object_id: &'a str,
        spec: EntraAssignmentSpec,
    ) -> Pending<'a, Preview, Upserted<EntraAssignment>> {
        Pending::new(
            self,
            Args::EntraUpsert(object_id, spec),
            |client, args, options| {
                Box::pin(async move {
                    let Args::EntraUpsert(object_id, spec) = args else {
                        unreachable!("made with an assignment")
                    };
                    client::check_not_empty("object_id", object_id)?;
                    client::check_not_empty("tenant_id", &spec.tenant_id)?;
                    let call = client.call(Idempotency::Safe, None, options).await?;
                    let answer = client
                        .raw(&call)
                        .upsert_entra_assignment(object_id, client.api_version(), &raw_spec(spec))
                        .await;
                    let (status, value) = decode::answer(answer, &call).await?;
                    let upserted = Upserted {
                        value: value.into(),
                        created: status == 201,
                    };
                    respond(&call, upserted)
                })
            },
        )
    }

    /// Deletes the Entra assignment of `object_id`.
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
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let spec = EntraAssignmentSpec::new("tenant-id", EntraPrincipalType::User, ["app-id"]);
    /// client.upsert_entra_assignment("user-oid", spec).await?;
    /// client.delete_entra_assignment("user-oid").await?;
    /// assert!(client.get_entra_assignment("user-oid").await.unwrap_err().is_not_found());
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_entra_assignment<'a>(&'a self, object_id: &'a str) -> Pending<'a, Preview, ()> {
        Pending::new(self, Args::Text(object_id), |client, args, options| {
            Box::pin(async move {
                let Args::Text(object_id) = args else {
                    unreachable!("made with an id")
                };
                client::check_not_empty("object_id", object_id)?;
                let call = client.call(Idempotency::Safe, None, options).await?;
                let answer = client
                    .raw(&call)
                    .delete_entra_assignment(object_id, client.api_version())
                    .await;
                decode::answer(answer, &call).await?;
                respond(&call, ())
            })
        })
    }

    /// Changes several Entra assignments in one merge-patch call: `Some`
    /// adds or replaces the assignment of that object id, `None` removes it.
    /// Returns the assignments the service reports (`None` when it answers
    /// 204 without a body).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for no changes or an empty object id;
    /// [`Error::Service`] and the other call errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::{EntraAssignmentSpec, EntraPrincipalType};
    ///
    /// let spec = |kind| EntraAssignmentSpec::new("tenant-id", kind, ["app-id"]);
    /// client.upsert_entra_assignment("group-oid", spec(EntraPrincipalType::Group)).await?;
    /// let written = client
    ///     .update_entra_assignments([
    ///         ("user-oid".to_string(), Some(spec(EntraPrincipalType::User))), // add
    ///         ("group-oid".to_string(), None),                                 // remove
    ///     ])
    ///     .await?;
    /// assert_eq!(written.map(|w| w.len()), Some(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_entra_assignments(
        &self,
        changes: impl IntoIterator<Item = (String, Option<EntraAssignmentSpec>)>,
    ) -> Pending<'_, Preview, Option<Vec<EntraAssignment>>> {
        let changes = changes.into_iter().collect();
        Pending::new(self, Args::EntraBulk(changes), |client, args, options| {
            Box::pin(async move {
                let Args::EntraBulk(changes) = args else {
                    unreachable!("made with changes")
                };
                let mut map = HashMap::new();
                for (object_id, spec) in changes {
                    client::check_not_empty("object_id", &object_id)?;
                    map.insert(object_id, spec.map(raw_spec));
                }
                if map.is_empty() {
                    return Err(Error::invalid("changes", "give at least one change"));
                }
                let body = t::EntraAssignmentUpdateBulkRequest(map);
                let call = client.call(Idempotency::Safe, None, options).await?;
                let answer = client
                    .raw(&call)
                    .update_entra_assignments(client.api_version(), &body)
                    .await;
                // 200 with the assignments written, or 204 without a body.
                let (status, stream) = decode::answer(answer, &call).await?;
                if status == 204 {
                    return respond(&call, None);
                }
                let body = decode::bytes(stream, &call).await?;
                let parsed: t::EntraAssignmentsResponse = decode::json(status, &body, &call)?;
                respond(
                    &call,
                    Some(parsed.value.into_iter().map(Into::into).collect()),
                )
            })
        })
    }
}

impl client::IdentityClient<Preview> {
    /// The context of one call.
    async fn call(
        &self,
        idempotency: Idempotency,
        bearer: Option<&str>,
        options: CallOptions,
    ) -> Result<Arc<Call>> {
        self.shared().call(idempotency, bearer, options).await
    }

    /// The generated preview client for one call.
    fn raw(&self, call: &Arc<Call>) -> Client {
        let shared = self.shared();
        Client::new_with_client(
            &shared.base,
            shared.http.clone(),
            shared.pipeline.for_call(call),
        )
    }
}

fn raw_spec(spec: EntraAssignmentSpec) -> t::EntraAssignmentCreateOrUpdateRequest {
    t::EntraAssignmentCreateOrUpdateRequest {
        tenant_id: spec.tenant_id,
        principal_type: t::EntraPrincipalType(spec.principal_type.to_string()),
        client_ids: spec.client_ids,
    }
}

impl<'a> CreateUser<'a, Preview> {
    /// Links the new user to your own id (1 to 256 characters); creating
    /// again with the same custom id returns the same user.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// let alice = client.create_user().custom_id("alice@contoso.com").await?;
    /// let again = client.create_user().custom_id("alice@contoso.com").await?;
    /// assert_eq!(alice, again);
    /// # Ok(())
    /// # }
    /// ```
    pub fn custom_id(mut self, custom_id: impl Into<String>) -> Self {
        self.custom_id = Some(custom_id.into());
        self
    }
}

impl<'a> CreateUserAndToken<'a, Preview> {
    /// Links the new user to your own id (1 to 256 characters); creating
    /// again with the same custom id returns the same user (with a new token).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
    /// # let client = acs_identity::preview::CommunicationIdentityClient::from_connection_string(&emulator.connection_string())?;
    /// use acs_identity::TokenScope;
    ///
    /// let first = client.create_user_and_token([TokenScope::Chat]).custom_id("bob").await?;
    /// let again = client.create_user_and_token([TokenScope::Chat]).custom_id("bob").await?;
    /// assert_eq!(first.user, again.user);
    /// assert_ne!(first.access_token, again.access_token);
    /// # Ok(())
    /// # }
    /// ```
    pub fn custom_id(mut self, custom_id: impl Into<String>) -> Self {
        self.custom_id = Some(custom_id.into());
        self
    }
}
