//! The command facing a hostile server, a broken stdout and careless input:
//! server text never reaches the terminal raw, a failed write is exit 1 with
//! a message (never a panic), and input refused before any request is sent
//! is exit 2, naming the flag the user typed.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity");
const KEY: &str = "c2VjcmV0LWtleS1vZi10aGUtaG9zdGlsZS10ZXN0cw==";

/// Answers each of the next `count` connections on 127.0.0.1 with one
/// fixed response and closes it; returns a connection string for it.
fn serve(count: usize, status: &str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    break;
                }
            }
            let _ = reader.get_mut().write_all(response.as_bytes());
        }
    });
    format!("endpoint={endpoint};accesskey={KEY}")
}

fn command(conn: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("RUST_LOG").stdin(Stdio::null());
    match conn {
        Some(conn) => cmd.env("ACS_CONNECTION_STRING", conn),
        None => cmd
            .env_remove("ACS_CONNECTION_STRING")
            .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING"),
    };
    cmd
}

fn run(conn: Option<&str>, args: &[&str]) -> Output {
    command(conn, args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_terminal_controls(bytes: &[u8], what: &str) {
    let shown = text(bytes);
    for c in shown.chars() {
        assert!(
            !c.is_control() || c == '\n',
            "{what} holds a raw control character {c:?}: {shown:?}"
        );
    }
}

#[test]
fn control_characters_from_the_server_are_escaped_on_stderr() {
    let body = r#"{"error":{"code":"Bad\u001b]0;pwned\u0007","message":"clear \u001b[2J screen \u0007 bell \u009b31m c1 \u202e reversed"}}"#;
    let conn = serve(1, "400 Bad Request", body);
    let out = run(Some(&conn), &["user", "create"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_no_terminal_controls(&out.stderr, "stderr");
    let err = text(&out.stderr);
    assert!(err.contains(r"clear \u{1b}[2J screen \u{7} bell"), "{err}");
    assert!(err.contains(r"\u{202e} reversed"), "{err}");
}

#[test]
fn control_characters_from_the_server_are_escaped_in_tables_and_json() {
    let body = r#"{"identity":{"id":"8:acs:x\u001b[2Jy\u0007"}}"#;
    for output in ["table", "json"] {
        let conn = serve(1, "201 Created", body);
        let out = run(Some(&conn), &["--output", output, "user", "create"]);
        assert!(out.status.success(), "{output}: {}", text(&out.stderr));
        assert_no_terminal_controls(&out.stdout, output);
        if output == "json" {
            let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(value["identity"]["id"], "8:acs:x\u{1b}[2Jy\u{7}");
        } else {
            assert!(text(&out.stdout).contains(r"8:acs:x\u{1b}[2Jy\u{7}"));
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_exit_1_with_a_message() {
    let conn = serve(1, "201 Created", r#"{"identity":{"id":"8:acs:created"}}"#);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = command(Some(&conn), &["--output", "json", "user", "create"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not write to stdout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_closed_pipe_is_exit_1_with_a_message() {
    let conn = serve(1, "201 Created", r#"{"identity":{"id":"8:acs:created"}}"#);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = command(Some(&conn), &["--output", "table", "user", "create"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not write to stdout"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn input_refused_before_sending_is_exit_2_naming_the_flag() {
    // No server: none of these may send anything.
    let missing = run(None, &["user", "create"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("--connection-string"));

    for conn in [
        "endpoint=https://acs-identity.invalid;accesskey=c2VjcmV0LWtleQ==;extra=1",
        "endpoint=https://acs-identity.invalid",
        "endpoint=not a url;accesskey=c2VjcmV0LWtleQ==",
        "accesskey=not base64!",
    ] {
        let out = run(Some(conn), &["user", "create"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{conn}: {err}");
        assert!(err.contains("connection string"), "{err}");
        assert!(!err.contains("c2VjcmV0LWtleQ"), "{err}");
    }

    let conn = "endpoint=https://acs-identity.invalid;accesskey=c2VjcmV0LWtleQ==";
    for args in [
        &[
            "user",
            "create",
            "--scopes",
            "chat",
            "--expires-in-minutes",
            "30",
        ][..],
        &[
            "token",
            "issue",
            "8:acs:x",
            "--scopes",
            "chat",
            "--expires-in-minutes",
            "1441",
        ],
    ] {
        let out = run(Some(conn), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--expires-in-minutes"), "{err}");
        assert!(!err.contains("expires_in"), "{err}");
    }
    let out = run(
        Some(conn),
        &["token", "issue", "8:acs:x", "--scopes", "chat voip"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--scopes"));
    let out = run(Some(conn), &["token", "revoke", "8:acs:a/b"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(Some(conn), &["--api-version", "2025-13", "user", "create"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--api-version"));
}

#[test]
fn plain_http_to_a_remote_host_is_refused_naming_the_fix() {
    // Refused before anything is sent. The name is under `.invalid`, which
    // never resolves (RFC 6761), so even a regression sends nothing.
    let conn = "endpoint=http://acs-identity.invalid:9/;accesskey=c2VjcmV0LWtleQ==";
    let out = run(Some(conn), &["user", "create"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--allow-insecure-http"), "{err}");
    assert!(err.contains("https"), "{err}");
    assert!(!err.contains("c2VjcmV0LWtleQ"), "{err}");
}

#[test]
fn plain_http_to_loopback_is_allowed() {
    let conn = serve(1, "201 Created", r#"{"identity":{"id":"8:acs:created"}}"#);
    let out = run(Some(&conn), &["--output", "json", "user", "create"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

// Issue 20, items 7 and 8: every file the command reads is bounded, and an
// `--auth entra` failure says why.

/// Runs the command under a 1 GiB address-space limit (so an unbounded
/// read fails fast instead of taking the machine's memory) and kills it
/// after `LIMIT`; the output of a run that ended by itself.
fn run_bounded(conn: Option<&str>, args: &[&str]) -> Output {
    const LIMIT: Duration = Duration::from_secs(20);
    let mut script = format!("ulimit -v 1048576; exec '{BIN}'");
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match conn {
        Some(conn) => cmd.env("ACS_CONNECTION_STRING", conn),
        None => cmd
            .env_remove("ACS_CONNECTION_STRING")
            .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING"),
    };
    let mut child = cmd.spawn().expect("bash runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn files_it_reads_are_bounded_and_an_endless_one_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("acs-cli-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.json");
    // Just over 1 MiB of valid JSON: refused for its size, not its content.
    let mut json = String::from("{\"pad\": \"");
    json.push_str(&"x".repeat(1024 * 1024));
    json.push_str("\"}");
    std::fs::write(&big, json).unwrap();
    let big = big.to_str().unwrap();
    // No server: refused before anything is sent.
    let conn = "endpoint=https://acs-identity.invalid;accesskey=c2VjcmV0LWtleQ==";
    let changes_zero = "@/dev/zero".to_string();
    let changes_big = format!("@{big}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["emulator", "--port", "0", "--jwks", "/dev/zero"],
            "--jwks",
        ),
        (vec!["emulator", "--port", "0", "--jwks", big], "--jwks"),
        (
            vec![
                "emulator",
                "--port",
                "0",
                "--tls",
                "--tls-cert",
                "/dev/zero",
                "--tls-key",
                "/dev/zero",
            ],
            "--tls-cert",
        ),
        (
            vec!["assignment", "entra", "update", "--changes", &changes_zero],
            "--changes",
        ),
        (
            vec!["assignment", "entra", "update", "--changes", &changes_big],
            "--changes",
        ),
        (
            vec!["token", "exchange-entra", "--token-file", "/dev/zero"],
            "--token-file",
        ),
        (
            vec!["token", "exchange-entra", "--token-file", big],
            "--token-file",
        ),
    ];
    for (args, flag) in cases {
        let out = run_bounded(Some(conn), &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(err.contains("larger than"), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing started or was sent"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_host_that_is_neither_an_address_nor_a_name_is_a_usage_error_naming_it() {
    for host in [
        "a b",
        "",
        "exa mple.com",
        "-bad",
        "bad..name",
        "a/b",
        "[::1",
        "x:y:z",
    ] {
        let arg = format!("--host={host}");
        let out = run_bounded(None, &["emulator", "--port", "0", &arg]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{host:?}: {err}");
        assert!(err.contains("--host"), "{host:?}: {err}");
        assert!(err.contains(&format!("'{host}'")), "{host:?}: {err}");
        assert!(!err.contains("127.0.0.1:0"), "{host:?}: {err}");
        assert!(out.stdout.is_empty(), "{host:?}: no connection string");
    }
}

/// A directory holding only an executable `name` running `script`.
#[cfg(unix)]
fn tool_dir(dir: &std::path::Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `--auth entra user create` with `PATH` set to `path` only.
fn entra_with_path(path: &std::path::Path) -> Output {
    // The endpoint is never reached: the credential fails first.
    Command::new(BIN)
        .args([
            "--auth",
            "entra",
            "--endpoint",
            "https://acs-identity.invalid/",
            "user",
            "create",
        ])
        .env("PATH", path)
        .env_remove("ACS_CONNECTION_STRING")
        .env_remove("COMMUNICATION_SERVICES_CONNECTION_STRING")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn auth_entra_failures_name_their_cause_and_no_secret() {
    let base = std::env::temp_dir().join(format!("acs-cli-entra-{}", std::process::id()));
    // Neither az nor azd on PATH (an empty directory).
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = entra_with_path(&empty);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("az not found on PATH"), "{err}");
    assert!(err.contains("azd not found on PATH"), "{err}");
    assert!(!err.contains("\\u{a}"), "one readable line: {err}");

    // Installed, not signed in: the tool's own message, with a token it
    // happened to print masked.
    let secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2aWN0aW0ifQ.c2lnbmF0dXJlLW9mLWEtcmVhbC10b2tlbg";
    let tools = base.join("tools");
    tool_dir(
        &tools,
        "az",
        &format!(
            "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account (cached {secret}).\" >&2\nexit 1\n"
        ),
    );
    tool_dir(
        &tools,
        "azd",
        "#!/bin/sh\necho 'ERROR: not logged in, run `azd auth login` to login' >&2\nexit 1\n",
    );
    let out = entra_with_path(&tools);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Please run 'az login'"), "{err}");
    assert!(err.contains("azd auth login"), "{err}");
    assert!(!err.contains(secret), "{err}");
    assert!(!err.contains("c2lnbmF0dXJlLW9mLWEtcmVhbC10b2tlbg"), "{err}");
    std::fs::remove_dir_all(&base).unwrap();
}
