//! `acs-identity emulator --data`: a write load, SIGKILL in the middle, a
//! restart on the same file, and every acknowledged write is still there.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_identity::{
    CommunicationIdentityClient, CommunicationUserIdentifier, EntraAssignmentSpec,
    EntraPrincipalType, RetryOptions, TokenScope, preview,
};

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity");
const KEY: &str = "ZHVyYWJpbGl0eS10ZXN0LWtleS1mb3ItdGhlLWVtdWxhdG9y";

/// Starts the emulator on `data` and returns it with its connection string.
fn start(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["emulator", "--port", "0", "--access-key", KEY, "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("endpoint="), "{line}");
    (child, line.trim().to_string())
}

/// What the load got acknowledged.
#[derive(Default)]
struct Acked {
    users: HashMap<String, CommunicationUserIdentifier>,
    revoked_tokens: Vec<String>,
    assignments: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_sigkill_and_restart() {
    let dir = std::env::temp_dir().join(format!("durability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("state.db");
    let (mut child, conn) = start(&data);

    let builder = || {
        CommunicationIdentityClient::builder_from_connection_string(&conn)
            .unwrap()
            .retry(RetryOptions::none())
            .per_try_timeout(Duration::from_secs(5))
    };
    let client = builder().build().unwrap();
    let preview: preview::CommunicationIdentityClient = builder().build_preview().unwrap();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let progress = Arc::new(tokio::sync::Notify::new());

    // Four writers, each looping through create (custom id), token, revoke
    // and assignment writes until the emulator dies under them.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (client, preview, acked, progress) = (
            client.clone(),
            preview.clone(),
            Arc::clone(&acked),
            Arc::clone(&progress),
        );
        writers.spawn(async move {
            for i in 0..10_000 {
                let custom = format!("writer-{w}-{i}");
                let Ok(created) = preview
                    .create_user_and_token([TokenScope::Chat])
                    .custom_id(&custom)
                    .await
                else {
                    return;
                };
                acked
                    .lock()
                    .unwrap()
                    .users
                    .insert(custom, created.user.clone());
                if client.revoke_tokens(&created.user).await.is_err() {
                    return;
                }
                acked
                    .lock()
                    .unwrap()
                    .revoked_tokens
                    .push(created.access_token.token().to_string());
                let object = format!("object-{w}-{i}");
                let spec = EntraAssignmentSpec::new("tenant", EntraPrincipalType::User, ["app"]);
                if preview
                    .upsert_entra_assignment(&object, spec)
                    .await
                    .is_err()
                {
                    return;
                }
                acked.lock().unwrap().assignments.push(object);
                progress.notify_one();
            }
        });
    }
    // Let the load run until enough writes are acknowledged, then SIGKILL.
    let wait = async {
        while acked.lock().unwrap().assignments.len() < 40 {
            progress.notified().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("the load makes progress");
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while writers.join_next().await.is_some() {}
    })
    .await
    .expect("the writers notice the emulator is gone");

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.users.len() >= 40);

    // Restart on the same file (a new port: a new connection string).
    let (mut child, conn) = start(&data);
    let preview = preview::CommunicationIdentityClient::from_connection_string(&conn).unwrap();
    for (custom, user) in &acked.users {
        let again = preview.create_user().custom_id(custom).await.unwrap();
        assert_eq!(
            &again, user,
            "{custom} maps to the same identity after the crash"
        );
        preview
            .get_user(user)
            .await
            .expect("the identity is still there");
    }
    for object in &acked.assignments {
        preview
            .get_entra_assignment(object)
            .await
            .unwrap_or_else(|e| panic!("{object}: {e}"));
    }
    let http = reqwest::Client::new();
    let endpoint = conn
        .trim_start_matches("endpoint=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    for token in &acked.revoked_tokens {
        let answer: serde_json::Value = http
            .post(format!("{endpoint}_emulator/validate-token"))
            .json(&serde_json::json!({"token": token}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["reason"], "revoked",
            "a revocation was lost: {answer}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
