//! Generated low-level clients for the Azure Communication Services Identity
//! REST API, one module per api-version (`v2025_06_30`, `v2025_03_02_preview`, …).
//!
//! Everything under `generated` is written by `cargo xtask regen` from the
//! swagger files in the repository's `spec/` folder; do not edit it by hand.
//! Each module has a `Client` with one async method per operation, and a
//! `types` module with the request and response bodies (which also derive
//! `schemars::JsonSchema`). Requests pass through [`hooks`], where a
//! [`Transport`] can sign and retry them; the `acs-identity` crate builds on
//! this one and is what most users want.
//!
//! # Examples
//!
//! ```no_run
//! use acs_identity_raw::{Inner, v2025_06_30::{Client, types}};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("https://my-resource.communication.azure.com", Inner::plain());
//! let created = client
//!     .create_identity("2025-06-30", &types::CommunicationIdentityCreateRequest::default())
//!     .await?;
//! println!("{}", created.identity.id);
//! # Ok(())
//! # }
//! ```

#[rustfmt::skip]
mod generated;
pub mod hooks;

pub use generated::*;
pub use hooks::{BoxFuture, Inner, Transport};
pub use progenitor_client::{Error, ResponseValue};
