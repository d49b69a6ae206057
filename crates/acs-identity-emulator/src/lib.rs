//! A local emulator of the Azure Communication Services Identity API.
//!
//! It serves every operation of 2025-03-02-preview and the stable operations
//! of 2021-03-07 through 2026-09-23 on 127.0.0.1, checks HMAC signatures the
//! way the service does, issues JWT access tokens, and keeps identities,
//! revocations and assignments in memory or in a SQLite file. Start it in
//! process for tests, or run `acs-identity emulator`.
//!
//! # Examples
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use acs_identity_emulator::Emulator;
//!
//! let emulator = Emulator::builder().start().await?;
//! let conn = emulator.connection_string();
//! assert!(conn.starts_with("endpoint=http://127.0.0.1:"));
//! emulator.shutdown().await;
//! # Ok::<(), acs_identity_emulator::EmulatorError>(())
//! # }).unwrap();
//! ```
//!
//! See the crate README for what matches the service and what is
//! emulator-only (`/_emulator/…` endpoints, group membership, fault
//! injection).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

mod api_error;
mod auth;
mod body;
mod builder;
mod control;
#[cfg(feature = "persistence")]
mod data_lock;
mod emulator;
mod error;
pub mod faults;
mod gate;
mod handlers;
mod host;
mod inspect;
#[cfg(feature = "jwks")]
mod jwks;
mod jwt;
mod management_token;
mod query;
mod request;
mod response;
mod routes;
mod server;
mod state;
mod store;
mod sync;
#[cfg(feature = "tls")]
mod tls;
mod tokens;
pub use acs_identity_raw::{PREVIEW_VERSIONS, STABLE_VERSIONS};
pub use builder::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, EmulatorBuilder,
    WELL_KNOWN_ACCESS_KEY, WELL_KNOWN_CONNECTION_STRING, WELL_KNOWN_PORT,
};
pub use emulator::{Emulator, REQUEST_LOG_CAPACITY, StatsSnapshot};
pub use error::EmulatorError;
pub use faults::Faults;
pub use gate::MAX_BODY;
pub use inspect::{
    Assignments, EntraRecord, IdentityRecord, Refusal, RequestRecord, TeamsExtensionRecord,
};
pub use management_token::AUDIENCES as MANAGEMENT_AUDIENCES;
#[cfg(feature = "tls")]
pub use tls::{CERTIFICATE_FILE, KEY_FILE, MAX_PEM_FILE, TlsCertificate};
