//! Shared helpers for the cross-crate integration tests: an emulator per
//! test, clients for it, and Entra-shaped test tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use acs_identity::{CommunicationIdentityClient, RetryOptions};
use acs_identity_emulator::Emulator;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An emulator on a free port and a stable client for it.
pub async fn start() -> (Emulator, CommunicationIdentityClient) {
    let emulator = Emulator::builder().start().await.expect("emulator starts");
    let client =
        CommunicationIdentityClient::builder_from_connection_string(&emulator.connection_string())
            .expect("connection string parses")
            .retry(RetryOptions::none())
            .build()
            .expect("client builds");
    (emulator, client)
}

/// A preview client for `emulator`.
pub fn preview_client(emulator: &Emulator) -> acs_identity::preview::CommunicationIdentityClient {
    acs_identity::preview::CommunicationIdentityClient::from_connection_string(
        &emulator.connection_string(),
    )
    .expect("preview client builds")
}

/// An unsigned JWT with these claims, shaped like a user's Entra ID token,
/// for the token exchanges (the emulator reads the user's token by its
/// claims only). Management calls refuse it: they take a token the emulator
/// signed, `Emulator::management_token()`.
pub fn entra_token(claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// Seconds since the epoch, `offset` seconds from now.
pub fn epoch_in(offset: i64) -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
        + offset
}
