//! A Rust client for the Azure Communication Services Identity API: create
//! and delete communication users, issue and revoke their access tokens,
//! exchange Teams and Entra ID tokens for ACS tokens, and manage Teams Phone
//! and Entra access assignments.
//!
//! # Getting started
//!
//! ```
//! use acs_identity::{CommunicationIdentityClient, TokenScope};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = acs_identity_emulator::Emulator::builder().start().await?;
//! # let conn = emulator.connection_string();
//! // ACS_CONNECTION_STRING, else COMMUNICATION_SERVICES_CONNECTION_STRING:
//! // let (_, conn) = acs_identity::connection_string_from_env().expect("a connection string");
//! let client = CommunicationIdentityClient::from_connection_string(&conn)?;
//!
//! let created = client
//!     .create_user_and_token([TokenScope::Chat, TokenScope::Voip])
//!     .expires_in(Duration::from_secs(60 * 60))
//!     .await?;
//! println!("{} until {}", created.user, created.access_token.expires_on());
//!
//! client.revoke_tokens(&created.user).await?;
//! client.delete_user(&created.user).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Preview-only operations do not exist on the stable client:
//!
//! ```compile_fail
//! # async fn f(client: acs_identity::CommunicationIdentityClient, user: acs_identity::CommunicationUserIdentifier) {
//! client.get_user(&user).await; // no such method: use acs_identity::preview::CommunicationIdentityClient
//! # }
//! ```
//!
//! # Key concepts
//!
//! - [`CommunicationIdentityClient`] sends a stable api-version (2025-06-30
//!   by default; pin an older one with [`ClientBuilder::api_version`]).
//!   [`preview::CommunicationIdentityClient`] sends 2025-03-02-preview and
//!   adds custom ids, `get_user` and Entra assignments; the stable client does
//!   not have those methods at all.
//! - Authentication: the access key of a connection string (every request is
//!   signed with HMAC-SHA256, see [`hmac`]), or Entra ID through a
//!   [`TokenCredential`] (with feature `azure_core`, any
//!   `Arc<dyn azure_core::credentials::TokenCredential>`, such as
//!   azure_identity's credentials, is one; and `?` turns an [`Error`] into
//!   an `azure_core::Error`).
//! - Every call retries throttling and server errors per [`RetryOptions`],
//!   re-signing each attempt; creating a user without custom id is not
//!   retried once the request may have reached the service.
//! - Errors are one [`Error`] type, carrying the service's `MS-CV` and
//!   `X-Azure-Ref` when it sent them; secrets (keys, tokens, signatures)
//!   never appear in `Debug`, `Display`, spans or logs.
//! - Every operation returns a call builder: `.timeout(…)` and `.header(…)`
//!   for this call only, `.with_response()` for the status and headers too.
//! - [`AccessToken`], [`CommunicationUserAndToken`] and the identifiers
//!   implement serde's traits (identifiers as their raw id).
//!
//! # How a call travels
//!
//! One way, from `get_token` to the socket and back:
//!
//! 1. the method returns a call builder ([`Pending`], or one with setters
//!    of its own such as [`GetToken`]), where per-call options go (a
//!    `timeout`, extra `header`s, `with_response`); awaited, it checks its
//!    arguments and makes the call's context (request id, whether it may be
//!    sent twice, the bearer token if any, the per-call options);
//! 2. it builds a generated client of [`acs_identity_raw`] for that call (an
//!    `Arc` clone and the base URL), whose `Inner` carries the context, and
//!    calls the generated operation, which builds the request;
//! 3. the generated hook hands the request, with its context, to this
//!    crate's pipeline, which signs each attempt (or sets the bearer token),
//!    sends it with `reqwest`, reads the body (at most
//!    [`MAX_RESPONSE_BODY`]) and retries per [`RetryOptions`];
//! 4. the generated operation decodes the body into its type, and one
//!    function of this crate turns that result (or the service's error, with
//!    the request id, `MS-CV` and `X-Azure-Ref`) into the method's result:
//!    a [`Response`] (value, status, headers), of which a plain `.await`
//!    keeps the value.
//!
//! The stable and preview clients share their operations: each is written
//! once and compiled for both generated modules.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assignment;
#[cfg(feature = "azure_core")]
mod azure;
mod builder;
mod client;
mod connection_string;
mod convert;
mod credential;
mod decode;
mod entra_claims;
mod error;
pub mod hmac;
mod identifier;
mod pending;
mod pipeline;
pub mod preview;
mod retry;
mod scope;
mod tls;
mod token;
mod version;

pub use assignment::{
    EntraAssignment, EntraAssignmentSpec, EntraPrincipalType, TeamsExtensionAssignment,
    TeamsExtensionPrincipalType, Upserted,
};
pub use builder::ClientBuilder;
pub use client::{
    ApiFamily, CommunicationIdentityClient, CreateUser, CreateUserAndToken, GetToken,
    GetTokenForTeamsUserOptions, IdentityClient, Stable,
};
pub use connection_string::{
    CONNECTION_STRING_VARIABLES, ConnectionString, ConnectionStringError,
    connection_string_from_env,
};
pub use credential::{
    AccessKey, BoxFuture, CommunicationTokenCredential, CommunicationTokenCredentialBuilder,
    CredentialError, ENTRA_SCOPE, EntraToken, InvalidAccessKey, InvalidToken, RefreshedToken,
    TokenCredential,
};
pub use entra_claims::{EntraTokenClaims, TEAMS_SCOPES};
pub use error::{DecodeError, Error, ErrorDetail, Result, ServiceError, TransportError};
pub use identifier::{
    CommunicationCloudEnvironment, CommunicationIdentifier, CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier, MicrosoftTeamsUserIdentifier, PhoneNumberIdentifier,
    TeamsExtensionUserIdentifier,
};
pub use pending::{CallFuture, Pending, RESERVED_HEADERS, Response, WithResponse};
pub use pipeline::MAX_RESPONSE_BODY;
pub use retry::{RETRY_STATUSES, RetryOptions};
pub use scope::{InvalidScope, TokenScope};
pub use token::{AccessToken, CommunicationUserAndToken, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
pub use version::{PREVIEW_DEFAULT, PREVIEW_VERSIONS, STABLE_DEFAULT, STABLE_VERSIONS};

/// The generated low-level clients this crate is built on.
pub use acs_identity_raw as raw;
