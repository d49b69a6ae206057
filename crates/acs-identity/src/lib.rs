//! Rust client for the Azure Communication Services Identity API.
//!
//! The ergonomic client is being built on top of [`acs_identity_raw`]; until
//! it lands, the raw crate's generated clients are re-exported here.

pub use acs_identity_raw as raw;
