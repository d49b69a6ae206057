//! The data file (feature `persistence`): state, keys and revocations
//! survive a restart; one emulator per file under any of its names; a
//! corrupt file is refused; the file is its owner's only.

mod common;

use std::time::SystemTime;

use acs_identity_emulator::{Emulator, EmulatorError, WELL_KNOWN_ACCESS_KEY};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

// One emulator per data file; a corrupt one is refused at start.

#[tokio::test]
async fn a_second_emulator_on_the_same_data_file_refuses_to_start() {
    let dir = temp_dir("emulator-lock");
    let path = dir.join("state.db");
    let first = Emulator::builder().data(&path).start().await.unwrap();
    let second = Emulator::builder().data(&path).start().await;
    match second {
        Err(EmulatorError::DataInUse { path: p }) => assert_eq!(p, path),
        other => panic!("the second emulator started: {other:?}"),
    }
    let message = Emulator::builder()
        .data(&path)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("in use by another emulator"), "{message}");
    first.shutdown().await;
    let third = Emulator::builder().data(&path).start().await.unwrap();
    third.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a data file with a few identities, then overwrites the root page
/// of the identities' primary-key index: table scans still work, writes do
/// not.
pub fn corrupt_data_file(path: &std::path::Path) {
    {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE identities (
                 id TEXT PRIMARY KEY, custom_id TEXT UNIQUE, last_token_issued_at TEXT,
                 token_gen INTEGER NOT NULL, min_valid_gen INTEGER NOT NULL);",
        )
        .unwrap();
        for i in 0..20 {
            conn.execute(
                "INSERT INTO identities VALUES (?1, NULL, NULL, 0, 0)",
                [format!("8:acs:r_{i:04}")],
            )
            .unwrap();
        }
    }
    let root: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_identities_1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let page = 4096 * (root as usize - 1);
    for b in &mut bytes[page..page + 4096] {
        *b = 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_corrupt_data_file_is_refused_at_start() {
    let dir = temp_dir("emulator-corrupt");
    let path = dir.join("state.db");
    corrupt_data_file(&path);
    match Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
    {
        Err(e @ EmulatorError::CorruptData { .. }) => {
            let message = e.to_string();
            assert!(message.contains("corrupt"), "{message}");
            assert!(message.contains("state.db"), "{message}");
        }
        Ok(e) => {
            let answer = create(&e, json!({}), STABLE).await;
            panic!("started on a corrupt file; a write then got {answer:?}");
        }
        Err(other) => panic!("{other}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The data file reached through a symlink, a hard link or a `..` path is
/// the same file: while one emulator holds it, no other starts on it.
#[cfg(unix)]
#[tokio::test]
async fn the_data_file_under_another_name_is_still_refused() {
    let dir = temp_dir("emulator-lock-names");
    let path = dir.join("state.db");
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&path, dir.join("link.db")).unwrap();
    std::os::unix::fs::symlink(dir.join("sub"), dir.join("sub-link")).unwrap();
    let first = Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
        .unwrap();
    let (_, user) = create(&first, json!({}), STABLE).await;
    assert!(user["identity"]["id"].is_string(), "{user}");
    let spellings = [
        dir.join("link.db"),
        dir.join("sub").join("..").join("state.db"),
        dir.join("sub-link").join("..").join("state.db"),
        dir.join(".").join("state.db"),
    ];
    for other in &spellings {
        match Emulator::builder().data(other).start().await {
            Err(EmulatorError::DataInUse { .. }) => {}
            Ok(second) => {
                second.shutdown().await;
                panic!("a second emulator started on {}", other.display());
            }
            Err(e) => panic!("{}: {e}", other.display()),
        }
    }
    // A hard link is a second name SQLite would keep a second journal for:
    // refused while the first runs, and refused alone too.
    std::fs::hard_link(&path, dir.join("hard.db")).unwrap();
    let message = match Emulator::builder().data(dir.join("hard.db")).start().await {
        Ok(second) => {
            second.shutdown().await;
            panic!("a second emulator started on a hard link");
        }
        Err(e) => e.to_string(),
    };
    assert!(message.contains("hard link"), "{message}");
    first.shutdown().await;
    let alone = Emulator::builder().data(&path).start().await.unwrap_err();
    assert!(alone.to_string().contains("hard link"), "{alone}");
    std::fs::remove_file(dir.join("hard.db")).unwrap();
    // One name again: it starts, through the symlink too, with its data.
    let again = Emulator::builder()
        .data(dir.join("link.db"))
        .start()
        .await
        .unwrap();
    assert_eq!(identities(&again).await, 1);
    again.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The data file holds the access key and the signing secret: its owner's
/// only, from creation on, and tightened when it was looser.
#[cfg(unix)]
#[tokio::test]
async fn the_data_file_is_its_owners_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("emulator-mode");
    let path = dir.join("state.db");
    let first = Emulator::builder().data(&path).start().await.unwrap();
    create(&first, json!({}), STABLE).await;
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let side = dir.join(format!("state.db{suffix}"));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    first.shutdown().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let second = Emulator::builder().data(&path).start().await.unwrap();
    assert_eq!(mode(&path), 0o600);
    second.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

// State survives a restart.

#[tokio::test]
async fn state_in_a_data_file_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "emulator-restart-{}-{}",
        std::process::id(),
        fastrand_u32()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let (id, token, revoked_token) = {
        let e = Emulator::builder()
            .access_key(KEY)
            .data(&path)
            .start()
            .await
            .unwrap();
        let (_, created) = create(
            &e,
            json!({"customId": "persist", "createTokenWithScopes": ["chat"]}),
            PREVIEW,
        )
        .await;
        let id = created["identity"]["id"].as_str().unwrap().to_string();
        let revoked = created["accessToken"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        Req::new(
            Method::POST,
            q(&format!("/identities/{id}/:revokeAccessTokens"), PREVIEW),
        )
        .send(&e)
        .await;
        let (_, t) = Req::new(
            Method::POST,
            q(&format!("/identities/{id}/:issueAccessToken"), PREVIEW),
        )
        .json(json!({"scopes": ["voip"]}))
        .send(&e)
        .await;
        let answer = Req::new(Method::PUT, q("/access/entra/assignments/o1", PREVIEW))
            .json(json!({"tenantId": "t", "principalType": "user", "clientIds": ["c"]}))
            .send(&e)
            .await;
        assert_eq!(answer.0, 201);
        e.shutdown().await;
        (id, t["token"].as_str().unwrap().to_string(), revoked)
    };
    let e = Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
        .unwrap();
    let (_, again) = create(&e, json!({"customId": "persist"}), PREVIEW).await;
    assert_eq!(again["identity"]["id"], id.as_str());
    assert!(
        e.is_token_valid(&token),
        "a token issued before the restart is still valid"
    );
    assert!(
        !e.is_token_valid(&revoked_token),
        "a revocation survives the restart"
    );
    assert_eq!(
        Req::new(Method::GET, q("/access/entra/assignments/o1", PREVIEW))
            .send(&e)
            .await
            .0,
        200
    );
    e.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn fastrand_u32() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[tokio::test]
async fn revocation_times_survive_a_restart() {
    let dir = temp_dir("inspect-restart");
    let path = dir.join("state.db");
    let e = Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
        .unwrap();
    let (_, created) = create(&e, json!({}), STABLE).await;
    let id = created["identity"]["id"].as_str().unwrap().to_string();
    Req::new(
        Method::POST,
        q(&format!("/identities/{id}/:revokeAccessTokens"), STABLE),
    )
    .send(&e)
    .await;
    let before = e.identities()[0].revoked_at.expect("revoked");
    e.shutdown().await;
    let e = Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
        .unwrap();
    assert_eq!(e.identities()[0].revoked_at, Some(before));
    e.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

// The access key is kept in the data file.

#[tokio::test]
async fn a_random_key_is_kept_in_the_data_file_and_a_given_one_replaces_it() {
    let dir = temp_dir("serving-key");
    let path = dir.join("state.db");
    let first = Emulator::builder().data(&path).start().await.unwrap();
    let key = first.access_key().to_string();
    first.shutdown().await;
    let second = Emulator::builder().data(&path).start().await.unwrap();
    assert_eq!(second.access_key(), key, "reused from the file");
    second.shutdown().await;
    // The well-known settings also take the stored key.
    let third = Emulator::builder()
        .well_known()
        .port(0)
        .data(&path)
        .start()
        .await
        .unwrap();
    assert_eq!(third.access_key(), key);
    third.shutdown().await;
    let given = Emulator::builder()
        .access_key(KEY)
        .data(&path)
        .start()
        .await
        .unwrap();
    assert_eq!(given.access_key(), KEY);
    given.shutdown().await;
    let after = Emulator::builder().data(&path).start().await.unwrap();
    assert_eq!(after.access_key(), KEY, "the given key was kept");
    after.shutdown().await;
    // Without a file, the well-known key.
    let memory = Emulator::builder()
        .well_known()
        .port(0)
        .start()
        .await
        .unwrap();
    assert_eq!(memory.access_key(), WELL_KNOWN_ACCESS_KEY);
    std::fs::remove_dir_all(dir).unwrap();
}

/// How many identities the emulator holds.
async fn identities(e: &Emulator) -> u64 {
    let stats: Value = reqwest::get(format!("{}_emulator/stats", e.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["identities"].as_u64().unwrap()
}
