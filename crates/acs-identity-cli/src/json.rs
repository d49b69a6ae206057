//! The JSON the commands print for the library's values, in the service's
//! own field names.

use acs_identity::{AccessToken, CommunicationUserAndToken};
use serde_json::{Value, json};

/// `{"token","expiresOn"}` as the service writes it.
pub fn token_json(token: &AccessToken) -> Value {
    json!({ "token": token.token(), "expiresOn": token.expires_on().to_rfc3339() })
}

/// `{"identity":{"id"},"accessToken":{…}}`: a user and its first token.
pub fn user_and_token_json(result: &CommunicationUserAndToken) -> Value {
    json!({ "identity": { "id": result.user.id() }, "accessToken": token_json(&result.access_token) })
}
