//! The operations, by family: identities and their tokens, Teams, Entra.
//! Each handler gets a request that passed the gate (route, body,
//! authentication, api-version, faults) and answers a status and an
//! optional JSON body.

pub mod entra;
pub mod identities;
pub mod teams;

use acs_identity_raw::ApiVersion;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::api_error::ApiError;
use crate::state::Shared;
use crate::store::{Store, StoreError};

/// The decoded path parameters, in the route pattern's order.
pub type Params = Vec<String>;

/// A handler's answer: the status and the JSON body, if any.
pub type Answer = Result<(u16, Option<Value>), ApiError>;

/// An operation's handler.
pub type Handler = fn(&Ctx<'_>, &[u8]) -> Answer;

/// What a handler knows about the request besides its body.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub version: &'static ApiVersion,
    pub params: Params,
    /// The raw query string.
    pub query: &'a str,
    /// The Host the request was sent to (for `nextLink`).
    pub host: &'a str,
    pub now: DateTime<Utc>,
    /// The user's token, for operations that authenticate with it.
    pub user_token: Option<&'a str>,
}

impl Ctx<'_> {
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The path parameter at `index`.
    pub fn param(&self, index: usize) -> &str {
        self.params
            .get(index)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// A storage failure: logged, answered 500.
pub fn storage(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "storage failed");
    ApiError::new(
        500,
        "InternalServerError",
        "The emulator could not store the change.",
    )
}

/// The scopes of the service.
const KNOWN_SCOPES: &[&str] = &[
    "chat",
    "voip",
    "chat.join",
    "chat.join.limited",
    "voip.join",
];

/// Checks a scope list, without repeats; `required`: at least one.
pub fn scopes(
    list: Option<Vec<String>>,
    target: &str,
    required: bool,
) -> Result<Vec<String>, ApiError> {
    let Some(list) = list else {
        return if required {
            Err(ApiError::validation(target, "Scopes are required."))
        } else {
            Ok(vec![])
        };
    };
    let mut out: Vec<String> = Vec::new();
    for s in list {
        if !KNOWN_SCOPES.contains(&s.as_str()) {
            return Err(ApiError::validation(
                target,
                format!("Scope {s} is not a valid scope."),
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if required && out.is_empty() {
        return Err(ApiError::validation(
            target,
            "At least one scope is required.",
        ));
    }
    Ok(out)
}

/// A token lifetime in minutes: 1,440 when not given, else 60 to 1,440.
pub fn expires_in_minutes(minutes: Option<i64>) -> Result<i64, ApiError> {
    match minutes {
        None => Ok(1440),
        Some(n) if (60..=1440).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::validation(
            "ExpiresInMinutes",
            format!(
                "ExpiresInMinutes value {n} is invalid. Value must be within the [60, 1440] interval."
            ),
        )),
    }
}
