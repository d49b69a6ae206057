//! The emulator's state: identities, token generations, assignments and
//! group memberships; in memory, optionally written through to SQLite.
//!
//! Every write goes to SQLite (when there is a database) before it is
//! applied in memory and acknowledged, inside one lock, so an acknowledged
//! write survives a crash and the two never disagree.
//!
//! Revocation keeps two numbers per user, not a list of tokens: each token
//! carries the user's token generation at issue time, and revoking raises the
//! lowest valid generation above every generation issued so far.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::sync::lock;

#[cfg(feature = "persistence")]
mod sqlite;

#[cfg(feature = "persistence")]
use sqlite::Db;
#[cfg(feature = "persistence")]
pub use sqlite::OpenError;

/// Without the `persistence` feature there is never a database.
#[cfg(not(feature = "persistence"))]
enum Db {}

/// A stored identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub custom_id: Option<String>,
    pub last_token_issued_at: Option<DateTime<Utc>>,
    /// When its tokens were last revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    pub token_gen: u64,
    pub min_valid_gen: u64,
}

/// A Teams Phone extension assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsExtensionAssignment {
    pub tenant_id: String,
    pub object_id: String,
    pub principal_type: String,
    pub client_ids: Vec<String>,
}

/// An Entra assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraAssignment {
    pub object_id: String,
    pub tenant_id: String,
    pub principal_type: String,
    pub client_ids: Vec<String>,
}

/// Why a token of a stored user is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    UserDeleted,
    Revoked,
}

#[derive(Default)]
struct State {
    identities: HashMap<String, Identity>,
    custom_ids: HashMap<String, String>,
    teams_extension: HashMap<(String, String), TeamsExtensionAssignment>,
    entra: BTreeMap<String, EntraAssignment>,
    groups: HashMap<String, HashSet<String>>,
}

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
#[error("emulator storage: {0}")]
pub struct StoreError(String);

/// A write, as the database applies it before memory does.
#[cfg_attr(
    not(feature = "persistence"),
    expect(dead_code, reason = "only a database reads the writes")
)]
enum Write<'a> {
    CreateIdentity(&'a Identity),
    DeleteIdentity(&'a str),
    IssueToken {
        id: &'a str,
        generation: u64,
        now: DateTime<Utc>,
    },
    Revoke {
        id: &'a str,
        min_valid_gen: u64,
        token_gen: u64,
        now: DateTime<Utc>,
    },
    PutTeamsExtension(&'a TeamsExtensionAssignment),
    DeleteTeamsExtension {
        tenant_id: &'a str,
        object_id: &'a str,
    },
    Entra(&'a [(String, Option<EntraAssignment>)]),
    GroupMembers {
        group_id: &'a str,
        members: &'a [String],
    },
    AccessKey(&'a str),
    Reset,
}

/// Applies `write` to the database, when there is one.
#[cfg(feature = "persistence")]
fn persist(db: Option<&Db>, write: Write<'_>) -> Result<(), StoreError> {
    db.map_or(Ok(()), |db| db.apply(write))
}

/// There is no database: nothing to write.
#[cfg(not(feature = "persistence"))]
fn persist(db: Option<&Db>, _write: Write<'_>) -> Result<(), StoreError> {
    db.map_or(Ok(()), |db| match *db {})
}

/// The state, behind one lock.
pub struct Store {
    state: Mutex<State>,
    /// The data file, when there is one.
    db: Option<Db>,
    /// The resource id used in identity ids, fixed per data file.
    pub resource_id: String,
    /// The secret the emulator signs its tokens with, fixed per data file.
    pub signing_secret: Vec<u8>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes` random bytes as lower-case hex.
fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let b = fastrand::u8(..);
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// A GUID-shaped random id: 32 random hex digits grouped 8-4-4-4-12.
pub fn random_guid() -> String {
    let mut out = String::with_capacity(36);
    let mut random = fastrand::u128(..);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(HEX[(random & 15) as usize] as char);
        random >>= 4;
    }
    out
}

impl Store {
    /// An in-memory store.
    pub fn memory() -> Self {
        Self {
            state: Mutex::new(State::default()),
            db: None,
            resource_id: random_guid(),
            signing_secret: random_hex(32).into_bytes(),
        }
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut State, Option<&Db>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut state = lock(&self.state);
        f(&mut state, self.db.as_ref())
    }

    /// Creates an identity, or returns the one that has `custom_id`.
    /// Returns the identity and whether it is new.
    pub fn create_identity(&self, custom_id: Option<&str>) -> Result<(Identity, bool), StoreError> {
        self.with(|state, db| {
            if let Some(existing) = custom_id.and_then(|c| state.custom_ids.get(c)) {
                return Ok((state.identities[existing].clone(), false));
            }
            let id = format!("8:acs:{}_{}", self.resource_id, random_guid());
            let identity = Identity {
                id: id.clone(),
                custom_id: custom_id.map(str::to_string),
                last_token_issued_at: None,
                revoked_at: None,
                token_gen: 0,
                min_valid_gen: 0,
            };
            persist(db, Write::CreateIdentity(&identity))?;
            if let Some(c) = custom_id {
                state.custom_ids.insert(c.to_string(), id.clone());
            }
            state.identities.insert(id, identity.clone());
            Ok((identity, true))
        })
    }

    /// The identity with this id.
    pub fn get_identity(&self, id: &str) -> Option<Identity> {
        lock(&self.state).identities.get(id).cloned()
    }

    /// Deletes an identity (its tokens stop being valid). False when unknown.
    pub fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|state, db| {
            let Some(identity) = state.identities.get(id) else {
                return Ok(false);
            };
            persist(db, Write::DeleteIdentity(id))?;
            if let Some(c) = &identity.custom_id {
                state.custom_ids.remove(c);
            }
            state.identities.remove(id);
            Ok(true)
        })
    }

    /// Records a token issued to `id` now; returns its generation, or `None`
    /// for an unknown id.
    pub fn issue_token(&self, id: &str, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        self.with(|state, db| {
            let Some(identity) = state.identities.get_mut(id) else {
                return Ok(None);
            };
            let generation = identity.token_gen + 1;
            persist(
                db,
                Write::IssueToken {
                    id,
                    generation,
                    now,
                },
            )?;
            identity.token_gen = generation;
            identity.last_token_issued_at = Some(now);
            Ok(Some(generation))
        })
    }

    /// Revokes every token issued to `id` so far (`now`). False when
    /// unknown.
    pub fn revoke(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.with(|state, db| {
            let Some(identity) = state.identities.get_mut(id) else {
                return Ok(false);
            };
            let min = identity.token_gen + 1;
            persist(
                db,
                Write::Revoke {
                    id,
                    min_valid_gen: min,
                    token_gen: identity.token_gen,
                    now,
                },
            )?;
            identity.min_valid_gen = min;
            identity.revoked_at = Some(now);
            Ok(true)
        })
    }

    /// Whether a token of generation `generation` for `id` is still valid.
    pub fn token_state(&self, id: &str, generation: u64) -> Result<(), Invalid> {
        let state = lock(&self.state);
        let identity = state.identities.get(id).ok_or(Invalid::UserDeleted)?;
        if generation < identity.min_valid_gen {
            Err(Invalid::Revoked)
        } else {
            Ok(())
        }
    }

    /// The Teams Phone extension assignment of (tenant, object).
    pub fn teams_extension(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Option<TeamsExtensionAssignment> {
        let state = lock(&self.state);
        state
            .teams_extension
            .get(&(tenant_id.to_string(), object_id.to_string()))
            .cloned()
    }

    /// Creates or replaces a Teams Phone extension assignment; true when created.
    pub fn put_teams_extension(&self, a: TeamsExtensionAssignment) -> Result<bool, StoreError> {
        self.with(|state, db| {
            persist(db, Write::PutTeamsExtension(&a))?;
            Ok(state
                .teams_extension
                .insert((a.tenant_id.clone(), a.object_id.clone()), a)
                .is_none())
        })
    }

    /// Deletes a Teams Phone extension assignment; false when there was none.
    pub fn delete_teams_extension(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<bool, StoreError> {
        self.with(|state, db| {
            persist(
                db,
                Write::DeleteTeamsExtension {
                    tenant_id,
                    object_id,
                },
            )?;
            Ok(state
                .teams_extension
                .remove(&(tenant_id.to_string(), object_id.to_string()))
                .is_some())
        })
    }

    /// The Entra assignment of an object.
    pub fn entra(&self, object_id: &str) -> Option<EntraAssignment> {
        lock(&self.state).entra.get(object_id).cloned()
    }

    /// Up to `limit` Entra assignments after `after` (by object id), and
    /// whether more follow.
    pub fn entra_page(&self, after: Option<&str>, limit: usize) -> (Vec<EntraAssignment>, bool) {
        let state = lock(&self.state);
        let mut iter: Box<dyn Iterator<Item = &EntraAssignment>> = match after {
            Some(after) => Box::new(
                state
                    .entra
                    .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                    .map(|(_, v)| v),
            ),
            None => Box::new(state.entra.values()),
        };
        let page: Vec<EntraAssignment> = iter.by_ref().take(limit).cloned().collect();
        let more = iter.next().is_some();
        (page, more)
    }

    /// Applies Entra assignment changes (`None` removes) atomically; returns
    /// for each change whether it created an assignment.
    pub fn put_entra(
        &self,
        changes: Vec<(String, Option<EntraAssignment>)>,
    ) -> Result<Vec<bool>, StoreError> {
        self.with(|state, db| {
            persist(db, Write::Entra(&changes))?;
            let mut created = Vec::with_capacity(changes.len());
            for (object_id, change) in changes {
                match change {
                    Some(a) => created.push(state.entra.insert(object_id, a).is_none()),
                    None => {
                        state.entra.remove(&object_id);
                        created.push(false);
                    }
                }
            }
            Ok(created)
        })
    }

    /// Replaces the members of a group (emulator-only: Entra group membership
    /// cannot be known locally).
    pub fn set_group_members(
        &self,
        group_id: &str,
        members: Vec<String>,
    ) -> Result<(), StoreError> {
        self.with(|state, db| {
            persist(
                db,
                Write::GroupMembers {
                    group_id,
                    members: &members,
                },
            )?;
            state
                .groups
                .insert(group_id.to_string(), members.into_iter().collect());
            Ok(())
        })
    }

    /// Whether `member` is in `group`.
    pub fn is_member(&self, group_id: &str, member: &str) -> bool {
        let state = lock(&self.state);
        state
            .groups
            .get(group_id)
            .is_some_and(|g| g.contains(member))
    }

    /// Every Entra group assignment (for exchange checks).
    pub fn entra_groups(&self) -> Vec<EntraAssignment> {
        let state = lock(&self.state);
        state
            .entra
            .values()
            .filter(|a| a.principal_type == "group")
            .cloned()
            .collect()
    }

    /// The access key an earlier start kept in the data file.
    pub fn stored_access_key(&self) -> Option<String> {
        #[cfg(feature = "persistence")]
        return self.db.as_ref()?.stored_access_key();
        #[cfg(not(feature = "persistence"))]
        match *self.db.as_ref()? {}
    }

    /// Keeps the access key in the data file (nothing in memory).
    pub fn keep_access_key(&self, key: &str) -> Result<(), StoreError> {
        persist(self.db.as_ref(), Write::AccessKey(key))
    }

    /// How many identities exist.
    pub fn identity_count(&self) -> usize {
        lock(&self.state).identities.len()
    }

    /// Every identity, by id.
    pub fn identities(&self) -> Vec<Identity> {
        let mut all: Vec<Identity> = lock(&self.state).identities.values().cloned().collect();
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Every Teams Phone extension assignment, by tenant then object.
    pub fn teams_extension_all(&self) -> Vec<TeamsExtensionAssignment> {
        let mut all: Vec<_> = lock(&self.state)
            .teams_extension
            .values()
            .cloned()
            .collect();
        all.sort_unstable_by(|a, b| {
            (&a.tenant_id, &a.object_id).cmp(&(&b.tenant_id, &b.object_id))
        });
        all
    }

    /// Every Entra assignment, by object id.
    pub fn entra_all(&self) -> Vec<EntraAssignment> {
        lock(&self.state).entra.values().cloned().collect()
    }

    /// Every group's members, sorted.
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        lock(&self.state)
            .groups
            .iter()
            .map(|(group, members)| {
                let mut members: Vec<String> = members.iter().cloned().collect();
                members.sort_unstable();
                (group.clone(), members)
            })
            .collect()
    }

    /// Deletes every identity, assignment and group membership (the
    /// resource id and signing secret stay, so the endpoint is the same).
    pub fn reset(&self) -> Result<(), StoreError> {
        self.with(|state, db| {
            persist(db, Write::Reset)?;
            *state = State::default();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_lower_case_hex_in_guid_groups() {
        let guid = random_guid();
        let groups: Vec<usize> = guid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{guid}");
        assert!(
            guid.chars()
                .all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f'))
        );
        assert_ne!(guid, random_guid());
        let hex = random_hex(32);
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    }

    #[test]
    fn custom_ids_map_to_one_identity() {
        let store = Store::memory();
        let (a, new_a) = store.create_identity(Some("alice")).unwrap();
        let (b, new_b) = store.create_identity(Some("alice")).unwrap();
        assert!(new_a && !new_b);
        assert_eq!(a.id, b.id);
        let (c, _) = store.create_identity(None).unwrap();
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with(&format!("8:acs:{}_", store.resource_id)));
    }

    #[test]
    fn revocation_invalidates_earlier_tokens_only() {
        let store = Store::memory();
        let (user, _) = store.create_identity(None).unwrap();
        let now = Utc::now();
        let g1 = store.issue_token(&user.id, now).unwrap().unwrap();
        assert_eq!(store.token_state(&user.id, g1), Ok(()));
        store.revoke(&user.id, Utc::now()).unwrap();
        assert_eq!(store.token_state(&user.id, g1), Err(Invalid::Revoked));
        let g2 = store.issue_token(&user.id, now).unwrap().unwrap();
        assert_eq!(store.token_state(&user.id, g2), Ok(()));
        store.delete_identity(&user.id).unwrap();
        assert_eq!(store.token_state(&user.id, g2), Err(Invalid::UserDeleted));
    }
}
