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
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::data_lock::DataLock;
use crate::sync::lock;

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
pub struct StoreError(#[from] rusqlite::Error);

/// Why a data file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another emulator holds the file.
    #[error("in use by another emulator")]
    InUse,
    /// `PRAGMA quick_check` found damage.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// The lock file could not be created.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file's name could not be resolved, or it has several.
    #[error("{0}")]
    Name(#[from] crate::data_lock::ResolveError),
    /// SQLite refused.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> Self {
        OpenError::Sqlite(e.0)
    }
}

/// Runs `PRAGMA quick_check` on its own connection (closed after, so the
/// serving connection starts with an empty page cache); `Err` lists the
/// first problems found. A file that is not a database at all is corrupt
/// too.
fn quick_check(path: &Path) -> Result<(), OpenError> {
    let conn = Connection::open(path)?;
    let found: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    match found {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(()),
        Ok(lines) => Err(OpenError::Corrupt(lines.join("; "))),
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Err(OpenError::Corrupt(message.unwrap_or_else(|| e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// The state, behind one lock.
pub struct Store {
    state: Mutex<State>,
    db: Option<Mutex<Connection>>,
    /// Held while the store lives (declared after `db`: released after the
    /// connection is closed).
    _lock: Option<DataLock>,
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
            _lock: None,
            resource_id: random_guid(),
            signing_secret: random_hex(32).into_bytes(),
        }
    }

    /// A store kept in the SQLite file at `path` (created when missing,
    /// its owner's only), locked against other emulators under its one name
    /// (see [`crate::data_lock`]) and checked for damage first.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let path = &crate::data_lock::resolve(path)?;
        let data_lock = DataLock::acquire(path)?.ok_or(OpenError::InUse)?;
        quick_check(path)?;
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS identities (
                 id TEXT PRIMARY KEY, custom_id TEXT UNIQUE, last_token_issued_at TEXT,
                 token_gen INTEGER NOT NULL, min_valid_gen INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS teams_extension_assignments (
                 tenant_id TEXT NOT NULL, object_id TEXT NOT NULL, principal_type TEXT NOT NULL,
                 client_ids TEXT NOT NULL, PRIMARY KEY (tenant_id, object_id));
             CREATE TABLE IF NOT EXISTS entra_assignments (
                 object_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, principal_type TEXT NOT NULL,
                 client_ids TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS group_members (group_id TEXT NOT NULL, member_id TEXT NOT NULL,
                 PRIMARY KEY (group_id, member_id));",
        )?;
        // Files written before revocation times were kept gain the column.
        let has_revoked_at: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('identities') WHERE name = 'revoked_at'")?
            .exists([])?;
        if !has_revoked_at {
            conn.execute_batch("ALTER TABLE identities ADD COLUMN revoked_at TEXT;")?;
        }
        let meta = |key: &str, make: &dyn Fn() -> String| -> Result<String, StoreError> {
            let existing: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            match existing {
                Some(v) => Ok(v),
                None => {
                    let v = make();
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                        params![key, v],
                    )?;
                    Ok(v)
                }
            }
        };
        let resource_id = meta("resource_id", &random_guid)?;
        let signing_secret = meta("signing_secret", &|| random_hex(32))?.into_bytes();

        let mut state = State::default();
        {
            let mut stmt =
                conn.prepare("SELECT id, custom_id, last_token_issued_at, token_gen, min_valid_gen, revoked_at FROM identities")?;
            let rows = stmt.query_map([], |r| {
                let issued: Option<String> = r.get(2)?;
                let token_gen: i64 = r.get(3)?;
                let min_valid_gen: i64 = r.get(4)?;
                let revoked: Option<String> = r.get(5)?;
                Ok(Identity {
                    id: r.get(0)?,
                    custom_id: r.get(1)?,
                    last_token_issued_at: issued.and_then(|s| s.parse().ok()),
                    revoked_at: revoked.and_then(|s| s.parse().ok()),
                    token_gen: token_gen.max(min_valid_gen) as u64,
                    min_valid_gen: min_valid_gen as u64,
                })
            })?;
            for identity in rows {
                let identity = identity?;
                if let Some(c) = &identity.custom_id {
                    state.custom_ids.insert(c.clone(), identity.id.clone());
                }
                state.identities.insert(identity.id.clone(), identity);
            }
            let mut stmt =
                conn.prepare("SELECT tenant_id, object_id, principal_type, client_ids FROM teams_extension_assignments")?;
            for a in stmt.query_map([], |r| {
                let ids: String = r.get(3)?;
                Ok(TeamsExtensionAssignment {
                    tenant_id: r.get(0)?,
                    object_id: r.get(1)?,
                    principal_type: r.get(2)?,
                    client_ids: serde_json::from_str(&ids).unwrap_or_default(),
                })
            })? {
                let a = a?;
                state
                    .teams_extension
                    .insert((a.tenant_id.clone(), a.object_id.clone()), a);
            }
            let mut stmt = conn.prepare(
                "SELECT object_id, tenant_id, principal_type, client_ids FROM entra_assignments",
            )?;
            for a in stmt.query_map([], |r| {
                let ids: String = r.get(3)?;
                Ok(EntraAssignment {
                    object_id: r.get(0)?,
                    tenant_id: r.get(1)?,
                    principal_type: r.get(2)?,
                    client_ids: serde_json::from_str(&ids).unwrap_or_default(),
                })
            })? {
                let a = a?;
                state.entra.insert(a.object_id.clone(), a);
            }
            let mut stmt = conn.prepare("SELECT group_id, member_id FROM group_members")?;
            for row in
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            {
                let (g, m) = row?;
                state.groups.entry(g).or_default().insert(m);
            }
        }
        Ok(Self {
            state: Mutex::new(state),
            db: Some(Mutex::new(conn)),
            _lock: Some(data_lock),
            resource_id,
            signing_secret,
        })
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut State, Option<&Connection>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut state = lock(&self.state);
        let db = self.db.as_ref().map(|d| lock(d));
        f(&mut state, db.as_deref())
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
            if let Some(db) = db {
                db.execute(
                    "INSERT INTO identities (id, custom_id, last_token_issued_at, token_gen, min_valid_gen) VALUES (?1, ?2, NULL, 0, 0)",
                    params![id, identity.custom_id],
                )?;
            }
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
            if let Some(db) = db {
                db.execute("DELETE FROM identities WHERE id = ?1", [id])?;
            }
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
            if let Some(db) = db {
                db.execute(
                    "UPDATE identities SET token_gen = ?2, last_token_issued_at = ?3 WHERE id = ?1",
                    params![id, generation as i64, now.to_rfc3339()],
                )?;
            }
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
            if let Some(db) = db {
                db.execute(
                    "UPDATE identities SET min_valid_gen = ?2, token_gen = ?3, revoked_at = ?4 WHERE id = ?1",
                    params![id, min as i64, identity.token_gen as i64, now.to_rfc3339()],
                )?;
            }
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
            if let Some(db) = db {
                db.execute(
                    "INSERT OR REPLACE INTO teams_extension_assignments (tenant_id, object_id, principal_type, client_ids) VALUES (?1, ?2, ?3, ?4)",
                    params![a.tenant_id, a.object_id, a.principal_type, serde_json::to_string(&a.client_ids).expect("strings")],
                )?;
            }
            Ok(state.teams_extension.insert((a.tenant_id.clone(), a.object_id.clone()), a).is_none())
        })
    }

    /// Deletes a Teams Phone extension assignment; false when there was none.
    pub fn delete_teams_extension(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<bool, StoreError> {
        self.with(|state, db| {
            if let Some(db) = db {
                db.execute(
                    "DELETE FROM teams_extension_assignments WHERE tenant_id = ?1 AND object_id = ?2",
                    params![tenant_id, object_id],
                )?;
            }
            Ok(state.teams_extension.remove(&(tenant_id.to_string(), object_id.to_string())).is_some())
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
            if let Some(db) = db {
                let tx = db.unchecked_transaction()?;
                for (object_id, change) in &changes {
                    match change {
                        Some(a) => tx.execute(
                            "INSERT OR REPLACE INTO entra_assignments (object_id, tenant_id, principal_type, client_ids) VALUES (?1, ?2, ?3, ?4)",
                            params![a.object_id, a.tenant_id, a.principal_type, serde_json::to_string(&a.client_ids).expect("strings")],
                        )?,
                        None => tx.execute("DELETE FROM entra_assignments WHERE object_id = ?1", [object_id])?,
                    };
                }
                tx.commit()?;
            }
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
            if let Some(db) = db {
                let tx = db.unchecked_transaction()?;
                tx.execute("DELETE FROM group_members WHERE group_id = ?1", [group_id])?;
                for m in &members {
                    tx.execute(
                        "INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?1, ?2)",
                        params![group_id, m],
                    )?;
                }
                tx.commit()?;
            }
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
        let db = lock(self.db.as_ref()?);
        db.query_row("SELECT value FROM meta WHERE key = 'access_key'", [], |r| {
            r.get(0)
        })
        .optional()
        .ok()
        .flatten()
    }

    /// Keeps the access key in the data file (nothing in memory).
    pub fn keep_access_key(&self, key: &str) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            lock(db).execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('access_key', ?1)",
                [key],
            )?;
        }
        Ok(())
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
            if let Some(db) = db {
                let tx = db.unchecked_transaction()?;
                tx.execute_batch(
                    "DELETE FROM identities; DELETE FROM teams_extension_assignments;
                     DELETE FROM entra_assignments; DELETE FROM group_members;",
                )?;
                tx.commit()?;
            }
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

    #[test]
    fn sqlite_state_survives_reopening() {
        let dir = std::env::temp_dir().join(format!(
            "emu-store-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        let (user, g1, resource) = {
            let store = Store::open(&path).unwrap();
            let (user, _) = store.create_identity(Some("bob")).unwrap();
            let g1 = store.issue_token(&user.id, Utc::now()).unwrap().unwrap();
            store.revoke(&user.id, Utc::now()).unwrap();
            store
                .put_teams_extension(TeamsExtensionAssignment {
                    tenant_id: "t".into(),
                    object_id: "o".into(),
                    principal_type: "user".into(),
                    client_ids: vec!["c".into()],
                })
                .unwrap();
            store
                .put_entra(vec![(
                    "o".into(),
                    Some(EntraAssignment {
                        object_id: "o".into(),
                        tenant_id: "t".into(),
                        principal_type: "user".into(),
                        client_ids: vec![],
                    }),
                )])
                .unwrap();
            store.set_group_members("g", vec!["m".into()]).unwrap();
            (user, g1, store.resource_id.clone())
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_id, resource);
        assert_eq!(store.create_identity(Some("bob")).unwrap().0.id, user.id);
        assert_eq!(store.token_state(&user.id, g1), Err(Invalid::Revoked));
        let g2 = store.issue_token(&user.id, Utc::now()).unwrap().unwrap();
        assert_eq!(
            store.token_state(&user.id, g2),
            Ok(()),
            "new tokens after a restart are valid"
        );
        assert!(store.teams_extension("t", "o").is_some());
        assert!(store.entra("o").is_some());
        assert!(store.is_member("g", "m"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
