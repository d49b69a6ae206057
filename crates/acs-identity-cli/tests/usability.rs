//! What makes the command pleasant: completions, an example in every
//! subcommand's help, tokens kept out of argv, scope suggestions.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use acs_identity_emulator::Emulator;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity");

fn run_with_stdin(conn: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("ACS_CONNECTION_STRING", conn)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn run(conn: &str, args: &[&str]) -> Output {
    run_with_stdin(conn, args, b"")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The subcommand names listed under `Commands:` in a help text.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_command_has_help_with_an_example() {
    let mut pending = vec![Vec::<String>::new()];
    let mut leaves = 0;
    // The tree is small; the bound only guards against a loop.
    for _ in 0..100 {
        let Some(path) = pending.pop() else { break };
        let mut args = path.clone();
        args.push("--help".into());
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        let children = subcommands(&help);
        if children.is_empty() {
            leaves += 1;
            assert!(
                help.contains("Examples:\n  acs-identity "),
                "{args:?}: {help}"
            );
        }
        for child in children {
            let mut next = path.clone();
            next.push(child);
            pending.push(next);
        }
    }
    assert!(pending.is_empty());
    assert!(leaves >= 18, "{leaves} commands");
}

#[test]
fn completion_scripts_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef acs-identity"),
        ("fish", "complete -c acs-identity"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run("", &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}");
        assert!(script.contains("exchange-teams-extension"), "{shell}");
    }
    let out = run("", &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_scopes_are_refused_with_a_suggestion() {
    let conn = "endpoint=https://acs-identity.invalid;accesskey=c2VjcmV0";
    let out = run(
        conn,
        &["token", "issue", "8:acs:x", "--scopes", "chat,voipp"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(r#"unknown scope "voipp"; did you mean "voip"?"#),
        "{err}"
    );
    let out = run(conn, &["user", "create", "--scopes", "everything"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(r#"unknown scope "everything""#) && !err.contains("did you mean"),
        "{err}"
    );
    assert!(err.contains("chat.join.limited"), "{err}");
}

#[test]
fn an_id_that_is_not_an_acs_user_gets_a_hint() {
    let conn = "endpoint=https://acs-identity.invalid;accesskey=c2VjcmV0";
    for args in [
        &["token", "revoke", "acs:resource_user"][..],
        &["user", "delete", "4b1f3c9e-0000-0000-0000-000000000000"],
    ] {
        let out = run(conn, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("start with `8:acs:`"),
            "{}",
            text(&out.stderr)
        );
    }
}

fn teams_token() -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = json!({"aud": "https://auth.msft.communication.azure.com", "scp": "Teams.ManageCalls Teams.ManageChats", "appid": "app", "oid": "user", "tid": "tenant", "exp": exp});
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exchange_tokens_come_from_stdin_or_a_file() {
    let emulator = Emulator::builder().start().await.unwrap();
    let conn = emulator.connection_string();
    let token = teams_token();
    let exchange = |source: &[&str], stdin: Vec<u8>| {
        let conn = conn.clone();
        let mut args = vec!["--output", "json", "token", "exchange-teams"];
        args.extend_from_slice(source);
        args.extend_from_slice(&["--app-id", "app", "--user-id", "user"]);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with_stdin(&conn, &args, &stdin)
        })
    };

    let from_stdin = exchange(&["--teams-token", "-"], format!("{token}\n").into_bytes())
        .await
        .unwrap();
    assert!(from_stdin.status.success(), "{}", text(&from_stdin.stderr));
    let value: Value = serde_json::from_slice(&from_stdin.stdout).unwrap();
    assert!(emulator.is_token_valid(value["token"].as_str().unwrap()));

    let dir = std::env::temp_dir().join(format!("acs-cli-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("teams-token.txt");
    std::fs::write(&file, format!("  {token}\n")).unwrap();
    let path = file.display().to_string();
    let from_file = exchange(&["--token-file", &path], Vec::new())
        .await
        .unwrap();
    assert!(from_file.status.success(), "{}", text(&from_file.stderr));

    let empty = exchange(&["--teams-token", "-"], b" \n".to_vec())
        .await
        .unwrap();
    assert_eq!(empty.status.code(), Some(2));
    assert!(text(&empty.stderr).contains("empty"));
    let missing = exchange(&["--token-file", "/nonexistent/token"], Vec::new())
        .await
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("--token-file"));
    let both = exchange(&["--teams-token", "x", "--token-file", "y"], Vec::new())
        .await
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the command on a pseudo-terminal (util-linux `script`, part of every
/// Debian system), so stdout and stderr are terminals; returns what the
/// terminal showed.
fn on_a_terminal(conn: &str, args: &str) -> Output {
    Command::new("script")
        .args(["-qefc", &format!("{BIN} {args}"), "/dev/null"])
        .env("ACS_CONNECTION_STRING", conn)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("script runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retrying_call_says_so_on_a_terminal_only() {
    let emulator = Emulator::builder()
        .faults("create_identity:503x1".parse().unwrap())
        .start()
        .await
        .unwrap();
    let conn = emulator.connection_string();
    let shown = {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || on_a_terminal(&conn, "user create"))
            .await
            .unwrap()
    };
    let screen = text(&shown.stdout);
    assert!(shown.status.success(), "{screen}");
    assert!(screen.contains("503, retrying in "), "{screen}");
    assert!(screen.contains(" s…"), "{screen}");

    emulator.set_faults("create_identity:503x1".parse().unwrap());
    let piped = tokio::task::spawn_blocking(move || run(&conn, &["user", "create"]))
        .await
        .unwrap();
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert!(piped.stderr.is_empty(), "{}", text(&piped.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_log_is_honoured_without_colour_codes_off_a_terminal() {
    let emulator = Emulator::builder().start().await.unwrap();
    let conn = emulator.connection_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["user", "create"])
            .env("ACS_CONNECTION_STRING", conn)
            .env("RUST_LOG", "acs_identity=debug")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let log = text(&out.stderr);
    assert!(log.contains("attempt finished"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
    assert!(
        !log.contains("accesskey") && !log.contains(emulator.access_key()),
        "{log}"
    );
}

/// A stand-in `az` that records its arguments and prints `token` the way
/// `az account get-access-token -o json` does.
fn fake_az(dir: &std::path::Path, token: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}/az-args'\nprintf '%s' '{{\"accessToken\":\"{token}\",\"expires_on\":{expires},\"tokenType\":\"Bearer\"}}'\n",
        dir.display()
    );
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_entra_signs_in_through_the_az_login() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("acs-cli-az-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    fake_az(&dir, &emulator.management_token());
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let endpoint = emulator.endpoint();
    let run_entra = |path: String| {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(BIN);
            cmd.args([
                "--auth",
                "entra",
                "--endpoint",
                &endpoint,
                "--output",
                "json",
                "user",
                "create",
            ])
            .env("PATH", path)
            .env_remove("ACS_CONNECTION_STRING")
            .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING")
            .env_remove("RUST_LOG");
            cmd.output().unwrap()
        })
    };

    let out = run_entra(path.clone()).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        created["identity"]["id"]
            .as_str()
            .unwrap()
            .starts_with("8:acs:")
    );
    let asked = std::fs::read_to_string(dir.join("az-args")).unwrap();
    assert!(
        asked.contains("account get-access-token")
            && asked.contains("--scope https://communication.azure.com//.default"),
        "{asked}"
    );

    // A token the emulator did not sign: the call is refused, exit 1.
    fake_az(&dir, &teams_token());
    let out = run_entra(path).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    // No az on PATH at all: the credential's failure, exit 1, no panic.
    let out = run_entra("/nonexistent".into()).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("credential"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
