//! A token service: the small backend a chat or calling app calls to get a
//! Communication Services token for its signed-in user.
//!
//! `POST /token` with `{"appUserId": "...", "scopes": ["chat", "voip"]}`
//! answers `{"userId", "token", "expiresOn"}`; each app user id maps to one
//! Communication Services identity through its custom id (see `app.rs` for
//! the API and its errors).
//!
//! Uses `ACS_CONNECTION_STRING` (or `COMMUNICATION_SERVICES_CONNECTION_STRING`)
//! when set; otherwise starts the local
//! emulator in this process. Listens on 127.0.0.1, on port `PORT` (any free
//! port by default), and prints its URL as the first line of stdout.
//!
//! ```sh
//! cargo run --example token_service
//! curl -s http://127.0.0.1:PORT/token -H 'content-type: application/json' \
//!      -d '{"appUserId": "alice@contoso.com", "scopes": ["chat", "voip"]}'
//! ```
//!
//! In the app, a `CommunicationTokenCredential` keeps the token fresh by
//! calling this service:
//!
//! ```ignore
//! let credential = CommunicationTokenCredential::builder(move || {
//!     let http = http.clone();
//!     async move {
//!         let answer: serde_json::Value = http
//!             .post("http://127.0.0.1:PORT/token")
//!             .json(&serde_json::json!({"appUserId": "alice@contoso.com", "scopes": ["chat"]}))
//!             .send().await?.error_for_status()?.json().await?;
//!         Ok::<_, reqwest::Error>(answer["token"].as_str().unwrap_or_default().to_string())
//!     }
//! })
//! .refresh_proactively(true)
//! .build()?;
//! ```

mod app;

use std::net::Ipv4Addr;

use acs_identity::preview;
use acs_identity_emulator::Emulator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    // Keep the emulator alive while serving, when there is one.
    let (connection_string, _emulator) = match acs_identity::connection_string_from_env() {
        Some((variable, conn)) => {
            eprintln!("Using the resource in {variable}.");
            (conn, None)
        }
        None => {
            let emulator = Emulator::builder().start().await?;
            eprintln!(
                "No connection string (ACS_CONNECTION_STRING, COMMUNICATION_SERVICES_CONNECTION_STRING): started the local emulator at {}.",
                emulator.endpoint()
            );
            (emulator.connection_string(), Some(emulator))
        }
    };
    let client = preview::CommunicationIdentityClient::from_connection_string(&connection_string)?;

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|e| format!("PORT {port:?}: {e}"))?,
        Err(_) => 0,
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("http://{}", listener.local_addr()?);
    eprintln!("POST /token with {{\"appUserId\": \"...\", \"scopes\": [\"chat\", \"voip\"]}}");

    axum::serve(listener, app::router(client)).await?;
    Ok(())
}
