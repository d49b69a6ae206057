//! What every request shares: the store, the keys, the fault settings and
//! the counters.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use crate::faults::Faults;
use crate::inspect::RequestLog;
use crate::management_token::EntraKeys;
use crate::store::Store;

/// Counters, readable through [`crate::Emulator::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub faults: AtomicU64,
    pub tokens_issued: AtomicU64,
}

/// The emulator's state, one per running emulator.
pub struct Shared {
    pub store: Store,
    pub access_key: Vec<u8>,
    /// Signs and verifies management bearer tokens.
    pub entra: EntraKeys,
    /// Time allowed for a request body to arrive.
    pub body_timeout: Duration,
    pub faults: Mutex<Faults>,
    pub page_size: AtomicUsize,
    pub stats: Stats,
    /// The last requests, for `/_emulator/requests` and the inspector.
    pub requests: RequestLog,
    /// A Host name accepted besides the loopback ones (`--host`).
    pub host_name: Option<String>,
    /// `http` or `https`, for the links the emulator writes.
    pub scheme: &'static str,
    /// Overrides the lifetime of every access token (tests of refresh).
    pub token_lifetime: Option<Duration>,
}
