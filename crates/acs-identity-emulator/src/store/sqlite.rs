//! The data file: SQLite, written through before memory (feature
//! `persistence`), locked against other emulators, read back at start.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    EntraAssignment, Identity, State, Store, StoreError, TeamsExtensionAssignment, Write,
    random_guid, random_hex,
};
use crate::data_lock::DataLock;
use crate::sync::lock;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// The open data file.
pub(super) struct Db {
    conn: Mutex<Connection>,
    /// Held while the store lives (declared after `conn`: released after
    /// the connection is closed).
    _lock: DataLock,
}

impl Db {
    /// Applies one write, in one transaction when it has several rows.
    pub(super) fn apply(&self, write: Write<'_>) -> Result<(), StoreError> {
        let db = lock(&self.conn);
        match write {
            Write::CreateIdentity(identity) => {
                db.execute(
                    "INSERT INTO identities (id, custom_id, last_token_issued_at, token_gen, min_valid_gen) VALUES (?1, ?2, NULL, 0, 0)",
                    params![identity.id, identity.custom_id],
                )?;
            }
            Write::DeleteIdentity(id) => {
                db.execute("DELETE FROM identities WHERE id = ?1", [id])?;
            }
            Write::IssueToken {
                id,
                generation,
                now,
            } => {
                db.execute(
                    "UPDATE identities SET token_gen = ?2, last_token_issued_at = ?3 WHERE id = ?1",
                    params![id, generation as i64, now.to_rfc3339()],
                )?;
            }
            Write::Revoke {
                id,
                min_valid_gen,
                token_gen,
                now,
            } => {
                db.execute(
                    "UPDATE identities SET min_valid_gen = ?2, token_gen = ?3, revoked_at = ?4 WHERE id = ?1",
                    params![id, min_valid_gen as i64, token_gen as i64, now.to_rfc3339()],
                )?;
            }
            Write::PutTeamsExtension(a) => {
                db.execute(
                    "INSERT OR REPLACE INTO teams_extension_assignments (tenant_id, object_id, principal_type, client_ids) VALUES (?1, ?2, ?3, ?4)",
                    params![a.tenant_id, a.object_id, a.principal_type, serde_json::to_string(&a.client_ids).expect("strings")],
                )?;
            }
            Write::DeleteTeamsExtension {
                tenant_id,
                object_id,
            } => {
                db.execute(
                    "DELETE FROM teams_extension_assignments WHERE tenant_id = ?1 AND object_id = ?2",
                    params![tenant_id, object_id],
                )?;
            }
            Write::Entra(changes) => {
                let tx = db.unchecked_transaction()?;
                for (object_id, change) in changes {
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
            Write::GroupMembers { group_id, members } => {
                let tx = db.unchecked_transaction()?;
                tx.execute("DELETE FROM group_members WHERE group_id = ?1", [group_id])?;
                for m in members {
                    tx.execute(
                        "INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?1, ?2)",
                        params![group_id, m],
                    )?;
                }
                tx.commit()?;
            }
            Write::AccessKey(key) => {
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('access_key', ?1)",
                    [key],
                )?;
            }
            Write::Reset => {
                let tx = db.unchecked_transaction()?;
                tx.execute_batch(
                    "DELETE FROM identities; DELETE FROM teams_extension_assignments;
                     DELETE FROM entra_assignments; DELETE FROM group_members;",
                )?;
                tx.commit()?;
            }
        }
        Ok(())
    }

    /// The access key an earlier start kept in the file.
    pub(super) fn stored_access_key(&self) -> Option<String> {
        lock(&self.conn)
            .query_row("SELECT value FROM meta WHERE key = 'access_key'", [], |r| {
                r.get(0)
            })
            .optional()
            .ok()
            .flatten()
    }
}

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

impl Store {
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
        let meta = |key: &str, make: &dyn Fn() -> String| -> rusqlite::Result<String> {
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
            db: Some(Db {
                conn: Mutex::new(conn),
                _lock: data_lock,
            }),
            resource_id,
            signing_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::Invalid;

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
