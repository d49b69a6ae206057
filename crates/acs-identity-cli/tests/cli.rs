//! The real `acs-identity` binary against an in-process emulator.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acs_identity_emulator::Emulator;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity");

/// Runs the binary (off the async runtime) with the emulator's connection string.
async fn run(conn: &str, args: &[&str]) -> Output {
    let conn = conn.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env("ACS_CONNECTION_STRING", conn)
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("join")
}

fn json_out(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn entra_token(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    format!(
        "{header}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn in_an_hour() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600
}

async fn emulator() -> (Emulator, String) {
    let e = Emulator::builder().page_size(1).start().await.unwrap();
    let conn = e.connection_string();
    (e, conn)
}

#[tokio::test(flavor = "multi_thread")]
async fn user_create_get_delete_with_service_names_in_json() {
    let (_e, conn) = emulator().await;
    let created = json_out(
        &run(
            &conn,
            &[
                "user",
                "create",
                "--scopes",
                "chat,voip",
                "--expires-in-minutes",
                "60",
            ],
        )
        .await,
    );
    let id = created["identity"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("8:acs:"));
    assert!(
        created["accessToken"]["token"]
            .as_str()
            .unwrap()
            .contains('.')
    );
    assert!(created["accessToken"]["expiresOn"].is_string());

    let custom = json_out(&run(&conn, &["user", "create", "--custom-id", "carol"]).await);
    let again = json_out(&run(&conn, &["user", "create", "--custom-id", "carol"]).await);
    assert_eq!(custom["identity"]["id"], again["identity"]["id"]);
    assert_eq!(custom["identity"]["customId"], "carol");
    let carol = custom["identity"]["id"].as_str().unwrap();

    let got = json_out(&run(&conn, &["user", "get", carol]).await);
    assert_eq!(got["id"], carol);
    assert_eq!(got["customId"], "carol");

    let deleted = run(&conn, &["user", "delete", &id]).await;
    assert!(
        deleted.status.success() && deleted.stdout.is_empty(),
        "{}",
        stderr(&deleted)
    );
    let missing = run(&conn, &["user", "delete", &id]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("404 IdentityNotFound"),
        "{}",
        stderr(&missing)
    );
    // What ACS support asks for, as the service sent it.
    for name in [", request id ", ", MS-CV ", ", X-Azure-Ref "] {
        assert!(
            stderr(&missing).contains(name),
            "{name}: {}",
            stderr(&missing)
        );
    }
    let missing = run(&conn, &["user", "get", &id]).await;
    assert_eq!(missing.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_issue_and_revoke() {
    let (e, conn) = emulator().await;
    let id = json_out(&run(&conn, &["user", "create"]).await)["identity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = json_out(
        &run(
            &conn,
            &[
                "token",
                "issue",
                &id,
                "--scopes",
                "voip",
                "--expires-in-minutes",
                "90",
            ],
        )
        .await,
    );
    let token = token["token"].as_str().unwrap().to_string();
    assert!(e.is_token_valid(&token));
    let revoked = run(&conn, &["token", "revoke", &id, "--output", "table"]).await;
    assert!(revoked.status.success());
    assert!(String::from_utf8_lossy(&revoked.stdout).contains("revoked the tokens of"));
    assert!(!e.is_token_valid(&token));

    let bad_scope = run(&conn, &["token", "issue", &id, "--scopes", "chat voip"]).await;
    assert_eq!(bad_scope.status.code(), Some(2));
    assert!(stderr(&bad_scope).contains("invalid token scope"));
    let too_short = run(
        &conn,
        &[
            "token",
            "issue",
            &id,
            "--scopes",
            "voip",
            "--expires-in-minutes",
            "30",
        ],
    )
    .await;
    assert_eq!(too_short.status.code(), Some(2));
    assert!(stderr(&too_short).contains("--expires-in-minutes"));
    assert!(stderr(&too_short).contains("60..=1440"));
    let unknown_user = run(
        &conn,
        &["token", "issue", "8:acs:nobody", "--scopes", "voip"],
    )
    .await;
    assert!(stderr(&unknown_user).contains("IdentityNotFound"));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_exchanges() {
    let (_e, conn) = emulator().await;
    let teams = entra_token(
        json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app", "oid": "user", "tid": "tenant", "exp": in_an_hour()}),
    );
    let ok = json_out(
        &run(
            &conn,
            &[
                "token",
                "exchange-teams",
                "--teams-token",
                &teams,
                "--app-id",
                "app",
                "--user-id",
                "user",
            ],
        )
        .await,
    );
    assert!(ok["token"].is_string());
    let wrong = run(
        &conn,
        &[
            "token",
            "exchange-teams",
            "--teams-token",
            &teams,
            "--app-id",
            "other",
            "--user-id",
            "user",
        ],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr(&wrong).contains("ValidationError") && stderr(&wrong).contains("appId"));

    let refused = run(
        &conn,
        &["token", "exchange-teams-extension", "--entra-token", &teams],
    )
    .await;
    assert!(stderr(&refused).contains("403"), "{}", stderr(&refused));
    let set = run(
        &conn,
        &[
            "assignment",
            "teams-extension",
            "set",
            "--tenant-id",
            "tenant",
            "--object-id",
            "user",
            "--principal-type",
            "user",
            "--client-ids",
            "app",
        ],
    )
    .await;
    assert_eq!(json_out(&set)["principalType"], "user");
    let ext = json_out(
        &run(
            &conn,
            &["token", "exchange-teams-extension", "--entra-token", &teams],
        )
        .await,
    );
    assert!(
        ext["identity"]["id"]
            .as_str()
            .unwrap()
            .ends_with("_tenant_user")
    );

    let refused = run(&conn, &["token", "exchange-entra", "--entra-token", &teams]).await;
    assert_eq!(refused.status.code(), Some(1));
    json_out(
        &run(
            &conn,
            &[
                "assignment",
                "entra",
                "set",
                "--object-id",
                "user",
                "--tenant-id",
                "tenant",
                "--principal-type",
                "user",
                "--client-ids",
                "app",
            ],
        )
        .await,
    );
    let entra = json_out(&run(&conn, &["token", "exchange-entra", "--entra-token", &teams]).await);
    assert!(entra["accessToken"]["token"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn assignments_teams_extension_and_entra() {
    let (_e, conn) = emulator().await;
    let target = ["--tenant-id", "t", "--object-id", "o"];
    let get = |extra: &'static [&'static str]| {
        let mut args = vec!["assignment", "teams-extension"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&target);
        args
    };
    let missing = run(&conn, &get(&["get"])).await;
    assert!(stderr(&missing).contains("404"), "{}", stderr(&missing));
    let mut set = get(&["set"]);
    set.extend(["--principal-type", "resourceAccount"]);
    assert_eq!(
        json_out(&run(&conn, &set).await)["principalType"],
        "resourceAccount"
    );
    assert_eq!(json_out(&run(&conn, &get(&["get"])).await)["objectId"], "o");
    assert!(run(&conn, &get(&["delete"])).await.status.success());

    let changes = r#"{"a":{"tenantId":"t","principalType":"user","clientIds":["c"]},"b":{"tenantId":"t","principalType":"group","clientIds":["c"]},"c":{"tenantId":"t","principalType":"tenant","clientIds":["c"]}}"#;
    let updated = json_out(
        &run(
            &conn,
            &["assignment", "entra", "update", "--changes", changes],
        )
        .await,
    );
    assert_eq!(updated["value"].as_array().unwrap().len(), 3);
    let listed = json_out(&run(&conn, &["assignment", "entra", "list"]).await);
    let ids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["objectId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["a", "b", "c"],
        "the list follows nextLink (page size 1)"
    );
    let removed = run(
        &conn,
        &[
            "assignment",
            "entra",
            "update",
            "--changes",
            r#"{"b":null}"#,
        ],
    )
    .await;
    assert!(removed.status.success() && removed.stdout.is_empty());
    assert_eq!(
        json_out(&run(&conn, &["assignment", "entra", "get", "--object-id", "a"]).await)["principalType"],
        "user"
    );
    assert!(
        run(
            &conn,
            &["assignment", "entra", "delete", "--object-id", "a"]
        )
        .await
        .status
        .success()
    );
    let gone = run(&conn, &["assignment", "entra", "get", "--object-id", "a"]).await;
    assert_eq!(gone.status.code(), Some(1));
    let bad = run(
        &conn,
        &["assignment", "entra", "update", "--changes", "[1]"],
    )
    .await;
    assert!(stderr(&bad).contains("JSON object"));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_and_missing_connection_strings_exit_2() {
    let (_e, conn) = emulator().await;
    for args in [
        &["user"][..],
        &["user", "frob"],
        &["token", "issue", "8:acs:x"],
        &["user", "create", "--expires-in-minutes", "60"],
        &["--output", "xml", "user", "create"],
        &["assignment", "entra", "set", "--object-id", "o"],
    ] {
        let out = run(&conn, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = tokio::task::spawn_blocking(|| {
        Command::new(BIN)
            .args(["user", "create"])
            .env_remove("ACS_CONNECTION_STRING")
            .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no connection string"));
    // The quickstarts' variable is read when ACS_CONNECTION_STRING is not
    // set; when both are, ACS_CONNECTION_STRING wins.
    for (acs, official) in [
        (None, conn.clone()),
        (
            Some(conn.clone()),
            "endpoint=https://x.example;accesskey=".to_string(),
        ),
    ] {
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(BIN);
            cmd.args(["user", "create"])
                .env("COMMUNICATION_SERVICES_CONNECTION_STRING", official)
                .env_remove("RUST_LOG");
            match acs {
                Some(acs) => cmd.env("ACS_CONNECTION_STRING", acs),
                None => cmd.env_remove("ACS_CONNECTION_STRING"),
            };
            cmd.output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = run(
        "endpoint=https://x.example;accesskey=c2VjcmV0LWtleQ==;extra=1",
        &["user", "create"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid connection string")
            && !stderr(&out).contains("c2VjcmV0LWtleQ")
    );
    let out = run(
        &conn,
        &[
            "--api-version",
            "2025-03-02-preview",
            "user",
            "delete",
            "8:acs:x",
        ],
    )
    .await;
    assert!(
        stderr(&out).contains("preview::CommunicationIdentityClient"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_subcommand_has_help() {
    let paths: &[&[&str]] = &[
        &[],
        &["user"],
        &["user", "create"],
        &["user", "get"],
        &["user", "delete"],
        &["token"],
        &["token", "issue"],
        &["token", "revoke"],
        &["token", "exchange-teams"],
        &["token", "exchange-entra"],
        &["token", "exchange-teams-extension"],
        &["assignment"],
        &["assignment", "teams-extension", "set"],
        &["assignment", "entra", "update"],
        &["emulator"],
    ];
    for path in paths {
        let mut args: Vec<&str> = path.to_vec();
        args.push("--help");
        let out = run("", &args).await;
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: acs-identity"), "{args:?}: {text}");
    }
}

#[test]
fn emulator_command_prints_the_connection_string_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("cli-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "emulator",
            "--port",
            "0",
            "--access-key",
            "c2VjcmV0LWtleQ==",
            "--data",
        ])
        .arg(dir.join("state.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("endpoint=http://127.0.0.1:"), "{first}");
    assert!(
        first.trim_end().ends_with(";accesskey=c2VjcmV0LWtleQ=="),
        "{first}"
    );

    let conn = first.trim().to_string();
    let out = Command::new(BIN)
        .args(["user", "create", "--custom-id", "dave"])
        .env("ACS_CONNECTION_STRING", &conn)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait().map(|s| s.code())));
    let code = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the emulator stops within 10 s")
        .unwrap();
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}
