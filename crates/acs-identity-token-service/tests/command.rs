//! The `acs-identity-token-service` command: serves from a configuration
//! file, stops cleanly on SIGTERM, and names a bad setting with exit 2.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use acs_identity_emulator::Emulator;
use acs_identity_token_service::DevIssuer;
use common::{AUDIENCE, client, config_text, exit_within, sigterm};

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity-token-service");

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("acs-ts-cmd-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the command with `args` and `--config config`; the URL it prints.
fn spawn(args: &[&str], config: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("ACS_CONNECTION_STRING")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    (child, url.trim().to_string())
}

#[tokio::test]
async fn it_serves_from_a_file_and_stops_on_sigterm() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let text = config_text(&emulator, &issuer, "listen = \"127.0.0.1:0\"", "");
    let path = temp_file("serve", &text);
    let (mut child, url) = spawn(&[], &path);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let answer = client()
        .post(format!("{url}/token"))
        .bearer_auth(issuer.token(AUDIENCE, "alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    sigterm(&child);
    let status = exit_within(&mut child, Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("Stopped."), "{stderr}");
    // The request log has the request, never the token or the key.
    assert!(stderr.contains("status=200"), "{stderr}");
    assert!(stderr.contains("\"/token\""), "{stderr}");
    assert!(!stderr.contains(emulator.access_key()), "{stderr}");
    assert!(!stderr.contains("eyJ"), "no JWT in the log: {stderr}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_bad_setting_is_named_with_exit_2_and_no_secret() {
    let path = temp_file(
        "bad",
        "connection_string = \"endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0LWtleQ==\"\n\
         [oidc]\nissuer = \"https://login.example\"\naudience = \"app\"\n[tokens]\nscopes = [\"pstn\"]\n",
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("ACS_CONNECTION_STRING")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tokens.scopes") && stderr.contains("pstn"),
        "{stderr}"
    );
    assert!(!stderr.contains("c2VjcmV0LWtleQ"), "{stderr}");

    let missing = Command::new(BIN)
        .arg("--config")
        .arg(path.with_file_name("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("absent.toml"));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// `--emulator` (feature `emulator`): one command serves tokens with no
/// Azure account and no identity provider, as the README shows.
#[cfg(feature = "emulator")]
#[tokio::test]
async fn with_emulator_one_command_serves_tokens_for_the_development_issuer() {
    let text = "listen = \"127.0.0.1:0\"\n";
    let path = temp_file("emulator", text);
    let (mut child, url) = spawn(&["--emulator"], &path);
    // The issuer's line on stderr says how to get a sign-in token.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let command = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no issuer line");
        if let Some(rest) = line.split("curl -s -X POST '").nth(1) {
            break rest.split('\'').next().unwrap().to_string();
        }
    };
    let http = client();
    let sign_in = http
        .post(&command)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: serde_json::Value = http
        .post(format!("{url}/token"))
        .bearer_auth(sign_in.trim())
        .json(&serde_json::json!({"scopes": ["chat"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["userId"].as_str().unwrap().starts_with("8:acs:"),
        "{answer}"
    );
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn operations_move_to_admin_listen_and_the_log_can_be_json() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = DevIssuer::start().await.unwrap();
    let text = config_text(
        &emulator,
        &issuer,
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nlog_format = \"json\"",
        "",
    );
    let path = temp_file("admin", &text);
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .env_remove("ACS_CONNECTION_STRING")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The public URL, then the admin URL.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut admin) = (String::new(), String::new());
    stdout.read_line(&mut url).unwrap();
    stdout.read_line(&mut admin).unwrap();
    let (url, admin) = (url.trim().to_string(), admin.trim().to_string());
    assert!(
        admin.starts_with("http://127.0.0.1:") && admin != url,
        "{admin}"
    );

    let get = |base: &str, path: &str| client().get(format!("{base}{path}")).send();
    // The public listener: tokens and /healthz, no operations.
    assert_eq!(get(&url, "/healthz").await.unwrap().status(), 200);
    assert_eq!(get(&url, "/metrics").await.unwrap().status(), 404);
    assert_eq!(get(&url, "/readyz").await.unwrap().status(), 404);
    let token = client()
        .post(format!("{url}/token"))
        .bearer_auth(issuer.token(AUDIENCE, "alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    // The admin listener: operations only.
    assert_eq!(get(&admin, "/healthz").await.unwrap().status(), 200);
    assert_eq!(get(&admin, "/readyz").await.unwrap().status(), 200);
    let metrics = get(&admin, "/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("acs_token_service_tokens_issued_total"),
        "{metrics}"
    );
    let no_tokens = client()
        .post(format!("{admin}/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_tokens.status(), 404);

    sigterm(&child);
    exit_within(&mut child, Duration::from_secs(20)).await;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // Every log line after the start is one JSON object; the request's has
    // its fields, and no line has the token or the key.
    let requests: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &serde_json::Value| v["target"] == "acs_identity_token_service::requests")
        .collect();
    let issued = requests
        .iter()
        .find(|v| v["path"] == "\"/token\"")
        .unwrap_or_else(|| panic!("no /token line: {stderr}"));
    assert_eq!(issued["status"], 200);
    assert_eq!(issued["method"], "POST");
    assert!(!stderr.contains("eyJ"), "no JWT in the log: {stderr}");
    assert!(!stderr.contains(emulator.access_key()), "{stderr}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
