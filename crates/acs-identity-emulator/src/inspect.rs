//! What the emulator shows about itself: its state (identities and
//! assignments) and the log of recent requests, through the library
//! ([`crate::Emulator::identities`], [`crate::Emulator::assignments`],
//! [`crate::Emulator::requests`]) and the `/_emulator/…` endpoints.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::Store;
use crate::sync::lock;

/// Every identity in `store`, by id.
pub fn identities(store: &Store) -> Vec<IdentityRecord> {
    store
        .identities()
        .into_iter()
        .map(|i| IdentityRecord {
            id: i.id,
            custom_id: i.custom_id,
            last_token_issued_at: i.last_token_issued_at,
            revoked_at: i.revoked_at,
        })
        .collect()
}

/// Every assignment and group membership in `store`.
pub fn assignments(store: &Store) -> Assignments {
    Assignments {
        teams_extension: store
            .teams_extension_all()
            .into_iter()
            .map(|a| TeamsExtensionRecord {
                tenant_id: a.tenant_id,
                object_id: a.object_id,
                principal_type: a.principal_type,
                client_ids: a.client_ids,
            })
            .collect(),
        entra: store
            .entra_all()
            .into_iter()
            .map(|a| EntraRecord {
                object_id: a.object_id,
                tenant_id: a.tenant_id,
                principal_type: a.principal_type,
                client_ids: a.client_ids,
            })
            .collect(),
        groups: store.groups(),
    }
}

/// An identity as the emulator holds it.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// assert!(emulator.identities().is_empty());
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IdentityRecord {
    /// The raw id (`8:acs:…`).
    pub id: String,
    /// The custom id it was created with (preview), if any.
    pub custom_id: Option<String>,
    /// When its last token was issued.
    pub last_token_issued_at: Option<DateTime<Utc>>,
    /// When its tokens were last revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A Teams Phone extension assignment.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// assert!(emulator.assignments().teams_extension.is_empty());
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TeamsExtensionRecord {
    /// The Entra tenant.
    pub tenant_id: String,
    /// The user's Entra object id.
    pub object_id: String,
    /// `user`.
    pub principal_type: String,
    /// The Entra applications allowed to exchange tokens.
    pub client_ids: Vec<String>,
}

/// An Entra assignment.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// assert!(emulator.assignments().entra.is_empty());
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EntraRecord {
    /// The user, group or tenant object id.
    pub object_id: String,
    /// The Entra tenant.
    pub tenant_id: String,
    /// `user`, `group` or `tenant`.
    pub principal_type: String,
    /// The Entra applications allowed to exchange tokens.
    pub client_ids: Vec<String>,
}

/// Every assignment, and the group memberships set on the emulator.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// emulator.set_group_members("group", ["alice"]);
/// assert_eq!(emulator.assignments().groups["group"], ["alice"]);
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Assignments {
    /// Teams Phone extension assignments, by tenant then object.
    pub teams_extension: Vec<TeamsExtensionRecord>,
    /// Entra assignments, by object id.
    pub entra: Vec<EntraRecord>,
    /// Group id → member object ids (emulator-only).
    pub groups: BTreeMap<String, Vec<String>>,
}

/// Why a request was refused: the check that failed and, for an HMAC
/// refusal, what the emulator computed, to compare with the client's own
/// (never the key).
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// let url = format!("{}identities?api-version=2025-06-30", emulator.endpoint());
/// reqwest::Client::new().post(url).send().await.unwrap();
/// let refusal = emulator.requests()[0].refusal.clone().unwrap();
/// assert_eq!(refusal.check, "missing header: Authorization");
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Refusal {
    /// The check, in words (`signature mismatch`, `date skew`, …).
    pub check: String,
    /// The base64 SHA-256 of the body the emulator received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The string the emulator signed: the method, the path and query, then
    /// `date;host;content hash`, joined by newlines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_to_sign: Option<String>,
}

impl Refusal {
    /// A refusal by `check`, with nothing computed.
    pub(crate) fn check(check: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            content_hash: None,
            string_to_sign: None,
        }
    }
}

/// One request the emulator answered.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use acs_identity_emulator::Emulator;
///
/// let emulator = Emulator::builder().start().await?;
/// let url = format!("{}identities?api-version=2025-06-30", emulator.endpoint());
/// reqwest::Client::new().post(url).send().await.unwrap();
/// let request = &emulator.requests()[0];
/// assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/identities"));
/// assert_eq!(request.status, Some(401));
/// assert_eq!(request.operation.as_deref(), Some("create_identity"));
/// # Ok::<(), acs_identity_emulator::EmulatorError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestRecord {
    /// Increasing from 1 per emulator.
    pub id: u64,
    /// When the request arrived.
    pub time: DateTime<Utc>,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `api-version` query value, when given.
    pub api_version: Option<String>,
    /// The operation (the generated client's method name), when the path
    /// names one.
    pub operation: Option<String>,
    /// The answer's status; `None` when a fault dropped the connection.
    pub status: Option<u16>,
    /// Time from the request's head to the answer.
    pub milliseconds: f64,
    /// For an error answer: its code and message.
    pub error: Option<String>,
    /// For a refusal: which check failed and what the emulator computed.
    pub refusal: Option<Refusal>,
}

/// The last requests, oldest first, at most `capacity`.
pub struct RequestLog {
    capacity: usize,
    entries: Mutex<(u64, VecDeque<RequestRecord>)>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new((0, VecDeque::with_capacity(capacity.min(1024)))),
        }
    }

    /// Adds `record` (its id is set here), dropping the oldest past the
    /// capacity.
    pub fn push(&self, mut record: RequestRecord) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = lock(&self.entries);
        entries.0 += 1;
        record.id = entries.0;
        if entries.1.len() == self.capacity {
            entries.1.pop_front();
        }
        entries.1.push_back(record);
    }

    /// The last `limit` requests with an id above `after`, oldest first.
    pub fn recent(&self, after: u64, limit: usize) -> Vec<RequestRecord> {
        let entries = lock(&self.entries);
        let newer = entries.1.iter().filter(|r| r.id > after);
        let skip = newer.clone().count().saturating_sub(limit);
        newer.skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> RequestRecord {
        RequestRecord {
            id: 0,
            time: Utc::now(),
            method: "GET".into(),
            path: path.into(),
            api_version: None,
            operation: None,
            status: Some(200),
            milliseconds: 0.1,
            error: None,
            refusal: None,
        }
    }

    #[test]
    fn the_log_keeps_the_newest_and_numbers_them() {
        let log = RequestLog::new(3);
        for i in 0..5 {
            log.push(record(&format!("/{i}")));
        }
        let all = log.recent(0, 10);
        let paths: Vec<&str> = all.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/2", "/3", "/4"]);
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(log.recent(4, 10).len(), 1);
        assert_eq!(log.recent(0, 2)[0].path, "/3");
        let off = RequestLog::new(0);
        off.push(record("/x"));
        assert!(off.recent(0, 10).is_empty());
    }
}
