//! The workspace README's code, run: every ```rust block is a function that
//! `build.rs` wraps in a test. They run against the resource in
//! `ACS_CONNECTION_STRING` (or `COMMUNICATION_SERVICES_CONNECTION_STRING`) when it is set, else against the emulator;
//! blocks that need a Teams user's token always use the emulator, which
//! reads that token's claims only.

use acs_identity_emulator::Emulator;

/// What a README function is called with.
struct Setting {
    connection_string: String,
    teams_token: String,
    _emulator: Option<Emulator>,
}

impl Setting {
    async fn new(needs_teams_token: bool) -> Self {
        let teams_token = acs_identity_tests::entra_token(serde_json::json!({
            "aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app-id", "oid": "user-oid", "tid": "tenant-id",
            "exp": acs_identity_tests::epoch_in(3600)
        }));
        if !needs_teams_token
            && let Some((_, connection_string)) = acs_identity::connection_string_from_env()
        {
            return Self {
                connection_string,
                teams_token,
                _emulator: None,
            };
        }
        let emulator = Emulator::builder()
            .start()
            .await
            .expect("the emulator starts");
        Self {
            connection_string: emulator.connection_string(),
            teams_token,
            _emulator: Some(emulator),
        }
    }
}

mod blocks {
    include!(concat!(env!("OUT_DIR"), "/readme.rs"));
}
